"""The trace middleware's logic: settings (`config`), incoming trace context (`context`),
the spans of one invocation (`spans`), and the two exporters (`otlp`, `xray`)."""
