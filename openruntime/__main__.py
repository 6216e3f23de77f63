from openruntime.cli import main

raise SystemExit(main())
