"""Lambda's Runtime API, both sides: `client` (what the orchestrator calls upstream),
`server` (what a runtime polls: routes, Lambda's answers, the one in-flight invocation,
used by the orchestrator's proxy and the emulator), `http` (the loopback HTTP/1.1 server
under it) and `netio` (socket helpers cheap enough for the cold path).

Kept empty of imports: `openruntime.runtime_api.netio` is on every cold start.
"""
