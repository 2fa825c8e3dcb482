"""Training on several devices with TensorFlow's own strategies, for every kind: two local worker
processes (MultiWorkerMirroredStrategy over TF_CONFIG) against one process with the same global
batch, and MirroredStrategy over two logical CPU devices (--cpu-devices 2).

Each run is a fresh process: a strategy over several devices must be made before TensorFlow
starts its runtime, which pytest's process has done long before.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_gan_synthetic import make_face_mirror

ROOT = Path(__file__).resolve().parent.parent
SWAP_NETS = ["--size", "64", "--width", "8", "--bottleneck", "32", "--no-onnx"]
# The default recipe (sharp) less its variational code (each replica would draw its own samples
# of it, so two workers and one process could not agree); its discriminators start at step 2 of 3
# and of 4, so both phases, and the resume between them, are compared.
SWAP_TINY = [*SWAP_NETS, "--no-variational"]
# Two workers against one process: the same sums in another order, so the weights may differ by
# float rounding and no more. That holds only for an optimizer whose update is proportional to the
# gradient. Adam divides each gradient by its own running size, so a gradient near zero moves its
# weight by about ±lr whatever its sign's rounding: on an AVX2 CPU (oneDNN's AVX2 kernels; here
# ONEDNN_MAX_CPU_ISA=AVX2 reproduces it) 90 % of the weights differed by more than 1e-6 after 4
# Adam steps, up to 5.4e-4, while AVX-512 kernels happened to agree within 1e-6. So this test
# trains with plain SGD (sgd_train.py swaps it in for Adam; the distribution code is untouched),
# at a rate that moves the weights far more than the tolerance in one step.
SGD_LR = 0.01
WEIGHT_TOLERANCE = 1e-6
# One step at SGD_LR must move some weight by this many tolerances, or the check proves nothing.
STEP_OVER_TOLERANCE = 100


@pytest.fixture(scope="module")
def two_people(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("people")
    return (
        make_face_mirror(root / "target", size=64, n_train=8, n_val=2),
        make_face_mirror(root / "user", size=64, n_train=8, n_val=2),
    )


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def command(module: str, args: list) -> list[str]:
    return [sys.executable, "-m", module, *map(str, args)]


def environment(tf_config: dict | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def sgd_command(args: list) -> list[str]:
    """train-swap with plain SGD in place of Adam (sgd_train.py), in a process of its own."""
    return [sys.executable, str(Path(__file__).with_name("sgd_train.py")), *map(str, args)]


def run_workers(args: list) -> list[subprocess.CompletedProcess]:
    """The same command line in two processes, each with its own TF_CONFIG; both finish."""
    hosts = [f"127.0.0.1:{p}" for p in free_ports(2)]
    workers = [
        subprocess.Popen(
            sgd_command(args),
            env=environment({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    done = []
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(worker.args, worker.returncode, out, err))
    return done


def run_one(module: str, args: list) -> subprocess.CompletedProcess:
    return run_command(command(module, args))


def run_command(line: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(line, env=environment(), capture_output=True, text=True, timeout=600)


def largest_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def weights(model_dir: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(model_dir / "swap_target.keras", compile=False).get_weights()


def test_two_workers_train_what_one_process_trains_and_resume(two_people, tmp_path):
    """Swap kind: no dropout, and augmentation drawn from the seed, so both runs see the same
    global batches; the masked L1 is normalised by the whole batch's mask across replicas. Plain
    SGD (see SGD_LR): the weights must agree to float rounding, far below one step's move."""
    target, user = two_people
    shared = [target, user, *SWAP_TINY, "--checkpoint-every", 2, "--val-every", 3]
    shared += ["--lr", SGD_LR]
    for steps in (3, 4):  # then resumed from the checkpoint at 3
        ran = run_workers(
            [*shared, "-o", tmp_path / "workers", "--batch-size", 1, "--steps", steps]
        )
        for worker in ran:
            assert worker.returncode == 0, worker.stderr[-3000:]
        alone = run_command(
            sgd_command([*shared, "-o", tmp_path / "one", "--batch-size", 2, "--steps", steps])
        )
        assert alone.returncode == 0, alone.stderr[-3000:]
        if steps == 3:
            at_3 = weights(tmp_path / "one" / "model")
    assert all(f"resuming {tmp_path / 'workers'} at step 3" in w.stderr for w in ran)
    assert all("devices: 2 workers, 2 replicas" in w.stderr for w in ran)
    info = json.loads((tmp_path / "workers" / "model" / "bundle.json").read_text())
    assert info["steps"] == 4 and info["training"]["workers"] == 2
    assert info["training"]["replicas"] == 2
    assert json.loads((tmp_path / "one" / "model" / "bundle.json").read_text())["training"] == {
        "workers": 1,
        "replicas": 1,
        "gpus": 0,
        "mixed_precision": False,
    }
    ckpts = sorted(p.name for p in (tmp_path / "workers" / "ckpt").glob("ckpt-*.index"))
    assert ckpts == ["ckpt-3.index", "ckpt-4.index"]  # the chief's; worker 1 wrote elsewhere
    workers, one = weights(tmp_path / "workers" / "model"), weights(tmp_path / "one" / "model")
    step = largest_difference(one, at_3)  # what the 4th step did: the scale a wrong sum would show
    assert step >= STEP_OVER_TOLERANCE * WEIGHT_TOLERANCE, step
    diff = largest_difference(workers, one)
    assert diff <= WEIGHT_TOLERANCE, (diff, step)


@pytest.mark.parametrize("kind", ["drawing", "swap", "cyclegan"])
def test_two_logical_cpu_devices_train_two_replicas(kind, two_people, tmp_path):
    target, user = two_people
    if kind == "drawing":
        args = [target, "--size", 64, "--ngf", 4, "--ndf", 4, "--no-onnx"]
    elif kind == "cyclegan":  # each replica keeps its own history pool
        args = [target, user, "--size", 64, "--ngf", 4, "--blocks", 1, "--ndf", 8, "--no-onnx"]
        args += ["--batch-size", 2, "--pool", 3, "--mess-up", 0.1, "--attention-weight", 10]
        args += ["--cycle-1-5-weight", 1]
    else:  # the VAE-GAN recipe, each replica drawing its own code samples
        args = [target, user, *SWAP_NETS, "--batch-size", 2, "--recipe", "vae-gan"]
    run = run_one(
        f"gan.kinds.{kind}.train",
        [*args, "-o", tmp_path / "run", "--steps", 2, "--val-every", 2, "--cpu-devices", 2],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "devices: 1 worker, 2 replicas" in run.stderr
    info = json.loads((tmp_path / "run" / "model" / "bundle.json").read_text())
    assert info["steps"] == 2 and info["training"]["replicas"] == 2
