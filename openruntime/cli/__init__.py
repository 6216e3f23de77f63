"""The `openruntime` command, one module per command group: `main` (parser, invoke,
serve, bootstrap, validate), `layer`, `middleware`, `bench`, `init`. `openruntime.command`
is the entry point; it reaches `main` only when the bootstrap fast path does not apply.
"""
