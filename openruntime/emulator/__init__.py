"""A local Lambda: `sandbox` (one execution environment: the bootstrap's process, its
Runtime API, invocations, START/END/REPORT) and `invoke_api` (Lambda's Invoke API over
HTTP, as the SDKs and the AWS CLI call it). Tool only: not shipped in the layer.
"""
