"""train-swap with plain SGD where the kind asks for Adam (gan.core.schedule.fused_adam): for
test_distributed, which needs an update proportional to the gradient (see SGD_LR there). Run as a
script, in its own process."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402

from gan.core import schedule  # noqa: E402


def plain_sgd(learning_rate, *_adam_only):
    """fused_adam's call, answered with SGD at the same rate (beta_1 dropped)."""
    return keras.optimizers.SGD(learning_rate)


schedule.fused_adam = plain_sgd

from gan.kinds.swap.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
