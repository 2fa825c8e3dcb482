"""The bundle core: a trained model as a folder of checked files that any kind writes and the app
loads. bundle.json (written last) says the kind, sizes and metrics and lists every file with
its SHA-256; the networks are Keras files (loaded in safe mode) with optional ONNX exports.

numpy only on import: a mistyped path fails before Keras or TensorFlow load.
"""

from gan.bundle.backend import BACKENDS, LoadedBundle
from gan.bundle.files import (
    BUNDLE_FILE,
    bundle_kind,
    read_bundle_info,
    require_kind,
)
from gan.bundle.registry import add_onnx, input_of, load_bundle

__all__ = [
    "BACKENDS",
    "BUNDLE_FILE",
    "LoadedBundle",
    "add_onnx",
    "bundle_kind",
    "input_of",
    "load_bundle",
    "read_bundle_info",
    "require_kind",
]
