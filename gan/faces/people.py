"""The two people of a face_crop run: both make-dataset folders checked (aligned, the same size,
wide enough for the swap crop) and read once at the model's size, with held-out faces."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from common.eyes import eye_scale
from common.outline import FOREHEAD
from gan.errors import InputError
from gan.faces.data import (
    Faces,
    SwapDataset,
    check_crop_fits,
    find_swap_dataset,
    load_faces,
    swap_alignment,
)

log = logging.getLogger(__name__)

MAX_VAL_FACES = 64


@dataclass
class People:
    """Both people's faces at the swap size, read once: training and validation sets."""

    target: Faces
    user: Faces
    target_val: Faces
    user_val: Faces
    val_split: dict[str, str]  # person -> "val", or "train" when a dataset has no val pairs
    datasets: dict[str, SwapDataset]  # person -> the make-dataset folder
    swap: dict  # the swap crop's alignment
    eyes: str = "pixels"  # the swap's --eyes: what the encoder sees of them
    eye_scales: dict[str, float] | None = None  # person -> common.eyes.eye_scale of their faces


def check_datasets(cfg: Any) -> tuple[SwapDataset, SwapDataset]:
    """Both datasets found, aligned, the same size, and wide enough for the swap crop."""
    target = find_swap_dataset(cfg.target, "target")
    user = find_swap_dataset(cfg.user, "user")
    if target.root == user.root:
        raise InputError(f"target and user are the same dataset ({target.root}): give two people")
    if target.size != user.size:
        raise InputError(
            f"the datasets' crops differ: target {target.root} is {target.size} px, user "
            f"{user.root} is {user.size} px; make both with the same make-dataset --size"
        )
    swap = swap_alignment(cfg.crop_scale, cfg.centre_y)
    for role, dataset in (("the target dataset", target), ("the user dataset", user)):
        check_crop_fits(dataset.alignment, swap, f"{role} ({dataset.root})")
    return target, user


def read_people(
    target: SwapDataset,
    user: SwapDataset,
    swap: dict,
    size: int,
    forehead: float = FOREHEAD,
    eyes: str = "pixels",
) -> People:
    faces, val, split, scales = {}, {}, {}, {}
    datasets = {"target": target, "user": user}
    for role, dataset in datasets.items():
        # Each person's lids drawn against their own open eye (common.eyes.eye_scale).
        scales[role] = eye_scale(dataset.points[dataset.rows("train")])
        read = (swap, size, forehead, eyes, scales[role])
        faces[role] = load_faces(dataset, "train", *read)
        has_val = len(dataset.rows("val")) > 0
        val[role] = (load_faces(dataset, "val", *read) if has_val else faces[role]).take(
            MAX_VAL_FACES
        )
        split[role] = "val" if has_val else "train"
        crop = dataset.size * swap["crop_scale"] / dataset.alignment["crop_scale"]
        if crop < 0.75 * size:
            log.warning(
                "%s: the swap crop is %.0f px in %s's %d px photos, upscaled to %d: "
                "make the dataset with a larger --size for a sharper model",
                role,
                crop,
                dataset.root.name,
                dataset.size,
                size,
            )
    return People(
        faces["target"],
        faces["user"],
        val["target"],
        val["user"],
        split,
        datasets,
        swap,
        eyes,
        scales,
    )


def read_two(cfg: Any, target: SwapDataset, user: SwapDataset) -> People:
    """Both people at cfg.size, in the crop that cfg.crop_scale and cfg.centre_y give, with
    cfg.forehead's outline, logged."""
    swap = swap_alignment(cfg.crop_scale, cfg.centre_y)
    eyes = getattr(cfg, "eyes", None) or "pixels"  # the swap's --eyes; CycleGAN sees pixels
    people = read_people(target, user, swap, cfg.size, cfg.forehead, eyes)
    log.info(
        "target %s: %d train / %d val faces; user %s: %d / %d; "
        "swap crop %g eye-widths, centred %g below the eyes, at %d px",
        target.root,
        len(people.target),
        len(people.target_val),
        user.root,
        len(people.user),
        len(people.user_val),
        cfg.crop_scale,
        cfg.centre_y,
        cfg.size,
    )
    return people


def bundle_fields(people: People, size: int, forehead: float) -> dict[str, Any]:
    """What every face_crop bundle's bundle.json says about its crop and its two people: the
    crop, the blended outline, the target's drawing and mean shape, who each dataset shows."""
    from gan.faces.data import reference_shape

    target, user = people.datasets["target"], people.datasets["user"]
    descriptors = {  # make-dataset's target_descriptor: who each dataset shows
        key: None if (v := d.info.target_descriptor) is None else [float(x) for x in v]
        for key, d in (("target_descriptor", target), ("user_descriptor", user))
    }
    shape = reference_shape(target, people.swap, size)
    return {
        "size": size,
        "mode": "aligned",
        "alignment": people.swap,
        "forehead": forehead,
        "drawing": target.info.drawing,
        "reference_shape": [[float(x), float(y)] for x, y in shape],
        **descriptors,
        "datasets": {"target": str(target.root), "user": str(user.root)},
        "dataset_size": target.size,
        "eyes": people.eyes,
        # What the bundle draws the user's lids with, and the target's (--eyes drawn).
        "eye_scale": {k: round(v, 4) for k, v in (people.eye_scales or {}).items()},
    }
