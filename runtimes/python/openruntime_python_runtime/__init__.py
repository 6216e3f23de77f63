"""openruntime's Python runtime: a stdlib-only AWS Lambda Runtime API client.

Behaves like the official awslambdaric (the ground truth for every payload and message)
but needs nothing outside the standard library, so it can ship as a plain Lambda layer.
Start it with the `bootstrap` script next to this package.
"""

__version__ = "0.1.0"
