"""`python -m openruntime_python_runtime [HANDLER]` (the bootstrap script is the usual way in)."""

from openruntime_python_runtime.main import main

main()
