"""The dataset's file contract, as landmarks/ uses it: spelled once in common.dataset_format."""

from common.dataset_format import (
    FORMAT,
    LANDMARKS,
    MANIFEST,
    SPLITS,
    VERSION,
    DatasetIndex,
    load_index,
    pair_path,
    read_pair,
)

__all__ = [
    "FORMAT",
    "LANDMARKS",
    "MANIFEST",
    "SPLITS",
    "VERSION",
    "DatasetIndex",
    "load_index",
    "pair_path",
    "read_pair",
]
