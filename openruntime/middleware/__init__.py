"""Middlewares: `protocol` (what a hook call is, what a middleware may do, and building
one from its pipeline entry), the two runners `exec` (one process per hook call, over
STDIN/STDOUT) and `persistent` (one process for many calls, with frames), `state` (the
per-invocation state folders) and `stderr_lines` (bounded STDERR forwarding).

Kept empty of imports: the cold path loads only the runner a pipeline uses.
"""
