"""The devices a run trains on, for every kind, on TensorFlow's own engine: one device; the GPUs
of one machine (MirroredStrategy); several machines configured the standard way, TF_CONFIG
(MultiWorkerMirroredStrategy); or, to check that path without GPUs, the CPU split into logical
devices. Mixed precision and XLA where they pay: on a GPU.

One worker is the chief: it alone writes the run folder; the others keep their checkpoints in a
temporary folder (TensorFlow's rule for multi-worker checkpoints) and read the chief's to resume.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from common.cli import quiet_native_stderr
from gan.errors import InputError

log = logging.getLogger(__name__)

TF_CONFIG = "TF_CONFIG"


@dataclass(frozen=True)
class Role:
    """This process in its cluster, from TF_CONFIG alone (no TensorFlow needed)."""

    workers: int = 1
    task: int = 0
    chief: bool = True


def cluster_role() -> Role:
    """Who this process is: the chief is task "chief", or worker 0 of a cluster without one."""
    raw = os.environ.get(TF_CONFIG)
    if not raw:
        return Role()
    try:
        config = json.loads(raw)
        cluster, task = config.get("cluster") or {}, config.get("task") or {}
        workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
        kind, index = task.get("type", "worker"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError) as e:
        raise InputError(f"{TF_CONFIG} is not a cluster description: {e}") from None
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return Role(max(workers, 1), index, chief)


@dataclass
class Devices:
    """Where a run trains: the strategy, its replicas and workers, and the GPU features."""

    strategy: Any
    role: Role
    gpus: int
    mixed: bool
    xla: bool

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def chief(self) -> bool:
        return self.role.chief

    def record(self) -> dict[str, Any]:
        """How the run was trained, for bundle.json."""
        return {
            "workers": self.role.workers,
            "replicas": self.replicas,
            "gpus": self.gpus,
            "mixed_precision": self.mixed,
        }

    def describe(self) -> str:
        workers = self.role.workers
        return (
            f"{workers} worker{'s' * (workers != 1)}, {self.replicas} replica"
            f"{'s' * (self.replicas != 1)}, {self.gpus} GPU(s); mixed precision {self.mixed}; "
            f"XLA {self.xla}"
        )

    def agree(self, value: int, what: str) -> int:
        """`value` (e.g. the step a checkpoint resumes at), which every worker must have alike:
        a collective across the cluster, so also the point where all workers have started."""
        if self.role.workers == 1:
            return value
        import tensorflow as tf

        replicas = self.replicas

        @tf.function
        def gather() -> Any:
            def mine() -> Any:  # this replica's value in its own slot
                slot = tf.distribute.get_replica_context().replica_id_in_sync_group
                return tf.one_hot(slot, replicas, dtype=tf.float64) * float(value)

            return self.strategy.reduce("SUM", self.strategy.run(mine), axis=None)

        seen = sorted({int(v) for v in gather().numpy()})
        if len(seen) > 1:
            raise InputError(
                f"the workers found {what} {', '.join(map(str, seen))}: every worker must see "
                "the chief's run folder (a shared folder, or a copy of its ckpt/)"
            )
        return value


def choose_devices(
    mixed_precision: str = "auto", xla: str = "auto", cpu_devices: int = 1, verbose: bool = False
) -> Devices:
    """The strategy for this machine and cluster, made before any other TensorFlow work (as
    MultiWorkerMirroredStrategy needs): GPU features only on a GPU."""
    import tensorflow as tf

    role = cluster_role()
    with quiet_native_stderr(verbose):  # the first device query is where CUDA speaks up
        gpus = tf.config.list_physical_devices("GPU")
    if cpu_devices > 1 and not gpus:
        _split_cpu(tf, cpu_devices)
    if role.workers > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
    elif cpu_devices > 1 and not gpus:
        strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_devices)])
    else:
        strategy = tf.distribute.get_strategy()
    mixed = {"on": True, "off": False}.get(mixed_precision, bool(gpus))
    # XLA does not compile a cross-replica step; with several replicas the step runs un-jitted.
    jit = {"on": True, "off": False}.get(xla, bool(gpus)) and strategy.num_replicas_in_sync == 1
    devices = Devices(strategy, role, len(gpus), mixed, jit)
    log.info("devices: %s", devices.describe())
    return devices


def _split_cpu(tf: Any, count: int) -> None:
    """`count` logical CPU devices; InputError when TensorFlow has started with fewer."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError:  # the runtime is up (a second run in one process): use what it has
        if len(tf.config.list_logical_devices("CPU")) < count:
            raise InputError(
                f"--cpu-devices {count}: TensorFlow has already started in this process with "
                "fewer CPU devices; run the command in a fresh process"
            ) from None
