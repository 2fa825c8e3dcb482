"""The compiled step and its data over the replicas, for every kind, and the float32
single-device copies that bundles are written from.

A kind writes one replica's step: it returns its share of each loss, so that the shares summed
over the replicas are the loss of the global batch (`share` for a mean over the batch), and it
gives the optimizer that share, scaled for mixed precision: gradients are summed over replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def share(loss: Any) -> Any:
    """This replica's share of a loss that is a mean over its batch: 1/replicas of it."""
    import tensorflow as tf

    return loss / tf.distribute.get_replica_context().num_replicas_in_sync


def global_sum(value: Any) -> Any:
    """`value` summed over every replica (the identity on one): for a loss whose normaliser is
    the whole batch's, e.g. a mask's area."""
    import tensorflow as tf

    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)


def compile_step(
    replica_step: Callable[..., dict[str, Any]],
    strategy: Any = None,
    xla: bool = False,
    after_update: Callable[[], None] | None = None,
) -> Callable[..., dict[str, Any]]:
    """`replica_step` compiled over `strategy`'s replicas: each runs it on its part of the batch
    and the losses' shares are summed. `after_update` runs once after every replica's update,
    in the cross-replica context (one update of every mirror of, e.g., a weights average)."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync == 1:

        def step(*batch):
            out = replica_step(*batch)
            if after_update is not None:
                after_update()
            return out

        return tf.function(step, jit_compile=xla)

    @tf.function
    def distributed_step(*batch):
        out = strategy.run(replica_step, args=batch)
        if after_update is not None:
            after_update()
        return {
            k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in out.items()
        }

    return distributed_step


def distribute(strategy: Any, dataset: Any) -> Any:
    """A dataset of global batches (tuples of tensors), each split into one slice per replica
    in replica order, whatever the cluster: replica r of W workers gets rows r·b to (r+1)·b of
    every global batch (b = the batch per replica), as one process with the global batch sees
    them. One replica: the dataset itself."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return dataset

    def per_pipeline(context: Any) -> Any:
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def slices(*batch):
            parts = [
                tf.reshape(t, [replicas, -1, *t.shape[1:]])[first : first + local] for t in batch
            ]
            return tf.data.Dataset.from_tensor_slices(tuple(parts))

        return dataset.flat_map(slices).prefetch(tf.data.AUTOTUNE)

    return strategy.distribute_datasets_from_function(per_pipeline)


def float32_copy(model: Any) -> Any:
    """A float32, single-device copy of a Keras model trained under mixed precision or a
    strategy, with its weights: what a bundle holds, so it runs at full precision anywhere."""
    import keras

    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:  # called outside the strategy's scope: plain variables
        clone = model.__class__.from_config(_float32(model.get_config()))
    finally:
        keras.config.set_dtype_policy(policy)
    clone.set_weights(model.get_weights())
    return clone


def _float32(config: Any) -> Any:
    """A Keras config with every layer's dtype policy made float32."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            return {**config, "config": {**config.get("config", {}), "name": "float32"}}
        return {k: _float32(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_float32(v) for v in config]
    return config
