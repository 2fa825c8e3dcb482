"""`train-cyclegan`: the CycleGAN kind through the training core."""

import sys

from gan.core.main import main as train_kind
from gan.kinds.cyclegan.kind import KIND, PRESETS

__all__ = ["PRESETS", "main"]


def main(argv: list[str] | None = None) -> int:
    return train_kind(KIND, argv)


if __name__ == "__main__":
    sys.exit(main())
