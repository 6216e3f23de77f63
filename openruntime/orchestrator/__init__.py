"""The orchestrator: what runs inside the sandbox as the custom runtime or exec wrapper.

`bootstrap` (the entry point) → `launch` (plan and start the language runtime before
anything else is imported) → `loop` (`Orchestrator`: next → handle → post) with `chain`
(the middlewares around the handler), `proxy` (the loopback Runtime API the runtime
polls), `subruntime` (the runtime's process) and `invocation_log` (one line per call).

Kept empty of imports: `openruntime.orchestrator.bootstrap` is the cold path.
"""
