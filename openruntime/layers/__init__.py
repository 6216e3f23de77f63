"""Lambda layers: deterministic builds, stack simulation, safe local extraction."""

from openruntime.layers.archive import HostileZipError, read_layer
from openruntime.layers.build import BuildReport, LayerArtifact, build_layers, pack_directory
from openruntime.layers.errors import LayerError
from openruntime.layers.extract import extract_stack
from openruntime.layers.inspect import StackReport, format_report, inspect_stack

__all__ = [
    "BuildReport",
    "HostileZipError",
    "LayerArtifact",
    "LayerError",
    "StackReport",
    "build_layers",
    "extract_stack",
    "format_report",
    "inspect_stack",
    "pack_directory",
    "read_layer",
]
