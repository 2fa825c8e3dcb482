"""A network in ONNX: exported once from Keras, run by ONNX Runtime without TensorFlow.

On a CPU, ONNX Runtime uses the AVX-512 that the TensorFlow wheel leaves idle (DESIGN.md: 74 ms
against 123 ms for the paper U-Net); with onnxruntime-gpu it picks CUDA or TensorRT, so a GPU user
runs the live mirror without TensorFlow's CUDA stack. Exporting needs TensorFlow and tf2onnx;
running needs only onnxruntime and numpy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError
from common.files import atomic_path
from gan.bundle.files import file_record
from gan.bundle.onnx_graph import fuse_instance_norm

log = logging.getLogger(__name__)

# Every kind's export names its input so (a swap model's too): float32 (batch, S, S, C) NHWC.
INPUT_NAME = "drawing"
OUTPUT_NAME = "image"  # the same shape, tanh output
OPSET = 17
TOLERANCE = 1e-4  # ONNX Runtime against Keras, max abs difference on [-1, 1] outputs
# Fastest first; onnxruntime (CPU wheel) has only the last, onnxruntime-gpu adds the others.
PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)


def export_onnx(model: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Write `model` (a float32 Keras generator) to `path` as ONNX; returns its file record.

    The batch dimension stays free, the input and output get plain names, the instance norms
    become ONNX InstanceNormalization (gan/onnx_graph.py: 1.45x faster at 128 px), and the file
    is written atomically. Raises RuntimeError if ONNX Runtime's output differs from Keras's.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    shape = (int(model.input_shape[1]), int(model.input_shape[2]), int(model.input_shape[3]))
    spec = (tf.TensorSpec((None, *shape), tf.float32, name=INPUT_NAME),)
    # A dict output names the graph's output; training=False: no dropout in the exported graph.
    fn = tf.function(lambda x: {OUTPUT_NAME: model(x, training=False)}, input_signature=spec)
    tf2onnx_log = logging.getLogger("tf2onnx")
    level = tf2onnx_log.level
    tf2onnx_log.setLevel(logging.WARNING)  # it narrates every optimiser pass at INFO
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=OPSET)
    finally:
        tf2onnx_log.setLevel(level)
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    fused = onnx.ModelProto()
    fused.CopyFrom(proto)
    try:
        count = fuse_instance_norm(fused)
        _save_checked(model, fused if count else proto, path, shape)
    except (RuntimeError, ValueError, KeyError) as e:  # a graph tf2onnx built another way
        log.warning("kept tf2onnx's graph: fusing its instance norms failed (%s)", e)
        _save_checked(model, proto, path, shape)
    return file_record(path)


def _save_checked(
    model: Any, proto: Any, path: str | os.PathLike[str], shape: tuple[int, int, int]
) -> None:
    """Write `proto` to `path` only if ONNX Runtime then computes what Keras computes."""
    import onnx

    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
        _check_against_keras(model, tmp, shape)


def _check_against_keras(model: Any, path: Path, shape: tuple[int, int, int]) -> None:
    """The exported graph must compute what the Keras model computes (within TOLERANCE)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, *shape)).astype(np.float32)
    want = np.asarray(model(x, training=False))
    got = open_session(path, threads=None)(x)
    diff = float(np.max(np.abs(got - want)))
    if not diff <= TOLERANCE:
        raise RuntimeError(f"ONNX export differs from Keras by {diff:.2e} (> {TOLERANCE:g})")
    log.info("ONNX export matches Keras within %.1e", diff)


def available_providers() -> list[str]:
    """The execution providers this onnxruntime offers, in our order of preference."""
    import onnxruntime as ort

    offered = set(ort.get_available_providers())
    return [p for p in PREFERRED_PROVIDERS if p in offered]


def open_session(
    path: str | os.PathLike[str], threads: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """float32 [-1, 1] batch -> float32 [-1, 1] batch through ONNX Runtime; InputError if the
    file is not a loadable model. `threads`: intra-op threads (None: one per physical core)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError("onnxruntime is not installed (pip install onnxruntime)") from None
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    # Idle workers that spin would take the core the landmark stage runs on between frames.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: graph-fusion notes are not the user's business
    try:
        session = ort.InferenceSession(str(path), options, providers=available_providers())
    except Exception as e:  # ORT raises its own exception types for damaged or foreign files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot load {path}: {first}") from None
    inputs = [i.name for i in session.get_inputs()]
    if inputs != [INPUT_NAME]:
        raise InputError(f"{path}: expected one input named {INPUT_NAME!r}, found {inputs}")

    def infer(x: np.ndarray) -> np.ndarray:
        return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    infer.provider = session.get_providers()[0]  # type: ignore[attr-defined]
    return infer
