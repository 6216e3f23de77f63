import sys

# `python -m openruntime bootstrap` is the cold start of every sandbox: skip argparse and
# the optional CLI modules when the command line is one the bootstrap parses itself.
if sys.argv[1:2] == ["bootstrap"]:
    from openruntime.bootstrap import main_argv

    status = main_argv(sys.argv[2:])
    if status is not None:
        raise SystemExit(status)

from openruntime.cli import main  # noqa: E402

raise SystemExit(main())
