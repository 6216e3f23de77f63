"""openruntime: a pipeline middleware runtime for AWS Lambda."""

__version__ = "0.1.0"
