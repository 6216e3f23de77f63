"""The `openruntime` command: the console script and `python -m openruntime` both run `main`.

`openruntime bootstrap` is the cold start of every sandbox that starts the orchestrator
through the command (a wheel install, or `python -m`): it skips argparse and the optional
CLI modules (~20 ms) when the command line is one the bootstrap parses itself.
"""

import sys


def main() -> int:
    if sys.argv[1:2] == ["bootstrap"]:
        from openruntime.orchestrator.bootstrap import main_argv

        status = main_argv(sys.argv[2:])
        if status is not None:
            return status
    from openruntime.cli.main import main as cli_main

    return cli_main()
