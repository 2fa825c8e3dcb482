"""Graph surgery on the exported generator: tf2onnx's instance norm becomes ONNX's own operator.

Keras' GroupNormalization(groups=-1) reaches ONNX as about twenty small nodes per layer (reshapes,
two ReduceMeans, shape arithmetic) wrapped in NHWC/NCHW transposes. ONNX Runtime has one fused
InstanceNormalization kernel for exactly this, in the convolutions' own NCHW layout, and its
transpose optimiser then cancels the transposes left around the element-wise activations.
export_onnx checks the result against Keras and keeps tf2onnx's graph if the two ever differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NORM_SCOPE = "group_normalization"  # the Keras layer's name, kept in tf2onnx's node names


def fuse_instance_norm(model: Any) -> int:
    """Replace each group-norm subgraph of `model` (an onnx.ModelProto) in place; returns how many.

    A block is recognised by tf2onnx's names: SCOPE/Reshape:0 (the input, after a Transpose to
    NHWC) up to SCOPE/Reshape_3:0 (the output, NHWC). gamma and beta are SCOPE/Reshape_1:0 and
    SCOPE/Reshape_2:0 when they are not 1 and 0 (tf2onnx folds those away), epsilon is the
    constant added to the variance.
    """
    import onnx

    graph = model.graph
    channels = _channels(onnx.shape_inference.infer_shapes(model).graph)
    producers = {out: node for node in graph.node for out in node.output}
    scopes = sorted(
        out.rsplit("/", 1)[0] + "/"
        for out in producers
        if NORM_SCOPE in out and out.endswith("/Reshape:0")
    )
    fused = sum(_fuse(graph, producers, channels, scope) for scope in scopes)
    if fused:
        _drop_dead_nodes(graph)
        _sort_topologically(graph)
    return fused


def _fuse(graph: Any, producers: dict, channels: dict[str, int], scope: str) -> bool:
    """One group-norm block, SCOPE/..., replaced by InstanceNormalization and a transpose back to
    NHWC (its old nodes are left for _drop_dead_nodes); False when it is not the block we know."""
    from onnx import helper, numpy_helper

    to_nhwc = producers.get(producers[scope + "Reshape:0"].input[0])
    if to_nhwc is None or to_nhwc.op_type != "Transpose" or scope + "Reshape_3:0" not in producers:
        return False
    x = to_nhwc.input[0]
    c = channels.get(x)
    if not c:
        return False
    gamma = _constant(graph, producers, scope + "Reshape_1:0", np.ones(c, np.float32))
    beta = _constant(graph, producers, scope + "Reshape_2:0", np.zeros(c, np.float32))
    epsilon = _constant(graph, producers, producers[scope + "add:0"].input[1], None)
    graph.initializer.extend(
        [
            numpy_helper.from_array(gamma.reshape(c), scope + "instance_norm/scale"),
            numpy_helper.from_array(beta.reshape(c), scope + "instance_norm/bias"),
        ]
    )
    y = scope + "instance_norm:0"
    producers[scope + "Reshape_3:0"].output[0] = scope + "Reshape_3/replaced:0"
    graph.node.extend(
        [
            helper.make_node(
                "InstanceNormalization",
                [x, scope + "instance_norm/scale", scope + "instance_norm/bias"],
                [y],
                epsilon=float(epsilon.reshape(-1)[0]),
                name=scope + "InstanceNormalization",
            ),
            helper.make_node(
                "Transpose", [y], [scope + "Reshape_3:0"], perm=[0, 2, 3, 1], name=scope + "NHWC"
            ),
        ]
    )
    return True


def _channels(inferred: Any) -> dict[str, int]:
    """Channel count (dim 1, NCHW) of every tensor whose shape inference knows it."""
    out = {}
    for value in inferred.value_info:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value"):
            out[value.name] = dims[1].dim_value
    return out


def _constant(graph: Any, producers: dict, name: str, default: np.ndarray | None) -> np.ndarray:
    """The value of a constant tensor (initializer or Constant node), or `default` if none."""
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init).astype(np.float32)
    node = producers.get(name)
    if node is not None and node.op_type == "Constant":
        return numpy_helper.to_array(node.attribute[0].t).astype(np.float32)
    if default is None:
        raise ValueError(f"{name} is not a constant")
    return default


def _drop_dead_nodes(graph: Any) -> None:
    """Remove nodes whose outputs nobody reads, and initializers no node reads."""
    outputs = {o.name for o in graph.output}
    while True:
        read = {i for node in graph.node for i in node.input} | outputs
        dead = [node for node in graph.node if not any(o in read for o in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    read = {i for node in graph.node for i in node.input}
    keep = [init for init in graph.initializer if init.name in read]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _sort_topologically(graph: Any) -> None:
    """ONNX wants every node after the nodes it reads from; the new nodes were appended."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        left = [node for node in pending if not all(i in ready for i in node.input)]
        if len(left) == len(pending):
            raise ValueError("the graph has a cycle")
        for node in pending:
            if node not in left:
                ordered.append(node)
                ready.update(node.output)
        pending = left
    del graph.node[:]
    graph.node.extend(ordered)
