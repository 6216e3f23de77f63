"""`python -m openruntime`; the layer's bootstrap runs `import openruntime.__main__` (-c spares runpy)."""

from openruntime.command import main

raise SystemExit(main())
