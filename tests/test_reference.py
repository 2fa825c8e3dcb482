"""The reference recipe: warps, the retrieval bank, the generator over its reference, the bundle,
and evaluate's paired-bootstrap intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.warp import PiecewiseAffine, hull_mask


@pytest.fixture(scope="session")
def train_split(sample_dataset):
    from gan.kinds.drawing.pairs import load_split

    return load_split(sample_dataset, "train", 64)


def test_the_warp_carries_each_point_to_its_target(train_split):
    shape = train_split.points.mean(axis=0)
    warp = PiecewiseAffine.for_shape(shape, 64)
    src, dst = train_split.points[0], train_split.points[40]
    map_x, map_y = warp.maps(src, dst)
    for k in (8, 30, 48, 54, 57, 62):  # chin, nose, mouth corners, lips
        x, y = np.round(dst[k]).astype(int)
        if 0 <= x < 64 and 0 <= y < 64:
            read = np.array([map_x[y, x], map_y[y, x]])
            # The output pixel at the target point reads the source image at the source point.
            assert np.linalg.norm(read - src[k]) < 1.5, k
    same = warp(train_split.photos[0], src, src)
    assert np.abs(same.astype(int) - train_split.photos[0].astype(int)).max() <= 1


def test_the_mask_covers_the_face_and_not_the_corners(train_split):
    mask = hull_mask(train_split.points[0], 64)
    nose = np.round(train_split.points[0][30]).astype(int)
    assert mask[nose[1], nose[0]] > 0.99
    assert mask[0, 0] < 0.01 and mask[63, 63] < 0.01
    assert mask.min() >= 0 and mask.max() <= 1


def test_training_never_retrieves_a_frame_within_the_excluded_window(train_split):
    from gan.kinds.drawing.reference import CANDIDATES, EXCLUDE_FRAMES

    bank = train_split.bank(max_bytes=2**62)
    assert len(bank) == len(train_split.photos)  # training draws from every frame
    rng = np.random.default_rng(0)
    for row in range(len(bank)):
        rows = bank.candidates(row)
        assert 0 < len(rows) <= CANDIDATES
        same_video = bank.sources[rows] == bank.sources[row]
        assert np.all(~same_video | (np.abs(bank.frames[rows] - bank.frames[row]) > EXCLUDE_FRAMES))
        # And what training mixes comes from those candidates only, weighted like at use.
        mixed, weights = bank.training_choice(row, rng)
        assert set(mixed.tolist()) <= set(rows.tolist()) and weights.sum() == pytest.approx(1)
        assert (weights >= 0).all() and (weights > 0).sum() <= bank.references


def test_the_mixed_reference_flickers_less_than_the_nearest_photo(train_split, sample_dataset):
    from gan.kinds.drawing.pairs import load_split
    from gan.kinds.drawing.reference import blend_weights

    assert np.allclose(blend_weights([1.0, 2.0, 3.0], count=2), [2 / 3, 1 / 3, 0])
    assert np.allclose(blend_weights([2.0, 2.0, 2.0], count=2), [0.5, 0.5, 0])  # a tie: no jump
    assert np.allclose(blend_weights([1.0, 2.0, 3.0, 5.0], count=3), [4 / 9, 3 / 9, 2 / 9, 0])
    assert np.allclose(blend_weights([1.0, 2.0, 3.0], count=1), [1, 0, 0])

    # The held-out tail's points, and a dense path through them (8 steps between two frames): along
    # it the points move a little at a time, so a reference that is continuous in the points
    # changes a little at a time, and one that jumps shows it as one large step.
    tail = load_split(sample_dataset, "val", 64)
    between = np.linspace(0, 1, 8, endpoint=False)[:, None, None]
    path = [a + (b - a) * between for a, b in zip(tail.points[:-1], tail.points[1:], strict=True)]
    path = np.concatenate([*path, tail.points[-1:]])

    def steps(images) -> np.ndarray:
        """Mean absolute change from each image to the next (grey levels)."""
        return np.abs(np.diff(np.asarray(images, np.float32), axis=0)).mean(axis=(1, 2, 3))

    largest, mean = {}, {}
    for references in (1, 2):
        bank = train_split.bank(max_bytes=2**62, references=references)
        along = steps([bank.reference(p) for p in path])
        largest[references] = along.max()
        mean[references] = steps([bank.reference(p) for p in tail.points]).mean()
        if references == 1:
            # The nearest photo jumps whenever another overtakes it: one step is a whole photo's
            # difference, far beyond the usual step (0.5 against 32 grey levels on the sample).
            assert along.max() > 10 * np.median(along)
    # Mixed, the same jumps become glides (0.23 of the largest jump with OpenCV 4.14 and 5.0 on
    # the sample), and the video's frames change less from one to the next (0.74-0.79).
    assert largest[2] < 0.5 * largest[1]
    assert mean[2] < mean[1]


def test_the_bank_stays_within_its_size_bound(train_split, tmp_path):
    from gan.kinds.drawing.reference import ReferenceBank

    per_photo = train_split.photos[0].nbytes
    bank = train_split.bank(max_bytes=20 * per_photo)
    assert len(bank) == 20
    # Thinned by spreading over the shapes: the extremes of mouth opening are kept.
    opening = train_split.points[:, 57, 1] - train_split.points[:, 51, 1]
    kept = bank.points[:, 57, 1] - bank.points[:, 51, 1]
    assert kept.max() >= np.percentile(opening, 90)
    bank.save(tmp_path / "bank.npz")
    assert (tmp_path / "bank.npz").stat().st_size <= 20 * per_photo + 4096
    again = ReferenceBank.load(tmp_path / "bank.npz")
    assert np.array_equal(again.photos, bank.photos) and np.allclose(again.points, bank.points)


def test_an_untrained_reference_generator_returns_its_reference_and_keeps_the_background(
    train_split,
):
    import keras

    from gan.kinds.drawing.models import Generator

    keras.utils.set_random_seed(0)
    g = Generator(64, 4, "reference")
    bank = train_split.bank()
    x = bank.inputs(train_split.drawings[3], train_split.points[3])[None]
    out = np.asarray(g(x, training=False))
    # The last layer starts at zero: the output is the warped reference.
    assert np.allclose(out, x[..., 3:6], atol=1e-6)
    # Outside the mask nothing the network does can change the reference.
    w = g.get_layer("to_rgb")
    w.set_weights([np.random.default_rng(0).normal(0, 0.5, v.shape) for v in w.get_weights()])
    changed = np.asarray(g(x, training=False))
    outside = x[0, ..., 6] == 0
    inside = x[0, ..., 6] > 0.99
    assert outside.any() and inside.any()
    assert np.allclose(changed[0][outside], x[0, ..., 3:6][outside], atol=1e-6)
    assert np.abs(changed[0][inside] - x[0, ..., 3:6][inside]).mean() > 0.01


def test_a_reference_model_trains_and_round_trips_through_its_bundle(tiny_model):
    from gan.bundle import load_bundle
    from gan.kinds.drawing.reference import BANK_FILE, MAX_BANK_BYTES

    info = json.loads((tiny_model / "bundle.json").read_text())
    assert info["recipe"] == "reference"  # the default preset's recipe
    assert BANK_FILE in info["files"] and (tiny_model / BANK_FILE).is_file()
    keras_bundle = load_bundle(tiny_model, backend="keras")
    onnx_bundle = load_bundle(tiny_model, backend="onnx")
    assert len(keras_bundle.bank) * 64 * 64 * 3 <= MAX_BANK_BYTES
    drawings = keras_bundle.bank.photos[:2] * 0  # black drawings: only the points matter here
    points = keras_bundle.bank.points[[0, 5]] + 1.5
    a = keras_bundle(drawings, points=points)
    b = keras_bundle(drawings, points=points)
    c = onnx_bundle(drawings, points=points)
    assert a.shape == (2, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)  # deterministic
    assert np.abs(a.astype(int) - c.astype(int)).max() <= 1  # ONNX computes the same
    with pytest.raises(ValueError, match="points"):
        keras_bundle(drawings)
    # As a video (the app's modes): the first frame retrieves by its own points, the next by
    # the points low-passed over the frames (ReferenceTrack), so the second face may differ.
    from app.modes import mode_for

    video = keras_bundle(drawings, points=points, track=keras_bundle.sequence())
    assert np.array_equal(video[0], a[0])
    again = mode_for(keras_bundle).faces_from_drawings(drawings, points)
    assert np.array_equal(again, video)
    assert info["references"] == keras_bundle.bank.references == 3  # three photos mixed


def test_a_bundle_from_before_mixing_retrieves_the_nearest_photo_alone(tiny_model, tmp_path):
    import shutil

    from common.errors import InputError
    from gan.bundle import load_bundle

    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    info = json.loads((copy / "bundle.json").read_text())
    del info["references"]
    (copy / "bundle.json").write_text(json.dumps(info))
    bundle = load_bundle(copy, backend="onnx")
    assert bundle.bank.references == 1
    points = bundle.bank.points[7] + 1.5
    rows, weights = bundle.bank.choose(points)
    assert rows[0] == bundle.bank.nearest(points) and weights[0] == 1 and weights[1:].sum() == 0
    info["references"] = 9
    (copy / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match="references"):
        load_bundle(copy)


def test_a_damaged_bank_is_refused_with_one_line(tiny_model, tmp_path):
    import shutil

    from common.errors import InputError
    from gan.bundle import load_bundle
    from gan.kinds.drawing.reference import BANK_FILE

    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    with open(copy / BANK_FILE, "r+b") as f:
        f.seek(100)
        f.write(b"\0" * 16)
    with pytest.raises(InputError, match="checksum"):
        load_bundle(copy)


def test_paired_bootstrap_calls_wins_losses_and_noise():
    from app.evaluate import paired_bootstrap

    rng = np.random.default_rng(0)
    base = list(rng.uniform(0.2, 0.4, 12))
    better = [b - 0.05 for b in base]
    assert paired_bootstrap(better, base, lower_is_better=True)["verdict"] == "win"
    assert paired_bootstrap(better, base, lower_is_better=False)["verdict"] == "loss"
    same = paired_bootstrap(base, base, lower_is_better=True)
    assert same["verdict"] == "within noise" and same["low"] == same["high"] == 0
    noisy = [b + d for b, d in zip(base, rng.normal(0, 0.05, 12), strict=True)]
    result = paired_bootstrap(noisy, base, lower_is_better=True)
    assert result["low"] < result["difference"] < result["high"]
    # Pairs without a value (no face found) drop out of both sides together.
    assert paired_bootstrap([None, 1.0, 2.0], [0.5, 0.5, 0.5], True)["pairs"] == 2


def test_a_perfect_generator_wins_every_row_and_the_baseline_none(sample_dataset):
    from app.evaluate import (
        FaceMeasures,
        compare,
        evaluate_outputs,
        load_val_set,
        nearest_neighbour,
        real_descriptors,
    )
    from landmarks import DrawingParams

    val = load_val_set(sample_dataset, 128, DrawingParams())
    measures = FaceMeasures()
    real = real_descriptors(val, measures)
    baseline = evaluate_outputs(val, nearest_neighbour(val), measures, real)
    perfect = evaluate_outputs(val, lambda d, rows: val.real[rows], measures, real)
    wins = compare(perfect, baseline)
    # The real frames themselves: every pixel and identity row is a win beyond noise. (Landmark
    # NME is not: on 64 px photos the landmark stage's own error on the real frame is as large
    # as the baseline's, so the real frame is no perfect score there.)
    for key in ("l1", "psnr", "ssim", "identity_distance"):
        assert wins[key]["verdict"] == "win", key
    itself = compare(baseline, baseline)
    assert all(v["verdict"] == "within noise" for v in itself.values())


def test_a_file_that_is_no_bank_is_one_clear_error(tmp_path):
    from common.errors import InputError
    from gan.kinds.drawing.reference import ReferenceBank

    np.savez(tmp_path / "flat.npz", photos=np.zeros(5, np.uint8), points=np.zeros(3))
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    for name, words in (("flat.npz", "cannot read"), ("junk.npz", "cannot read")):
        with pytest.raises(InputError, match=words):
            ReferenceBank.load(tmp_path / name)
    arrays = {
        "photos": np.zeros((2, 8, 8, 3), np.uint8),
        "points": np.zeros((2, 5, 2)),
        "frames": np.arange(2),
        "sources": np.zeros(2),
    }
    np.savez(tmp_path / "shapes.npz", **arrays)
    with pytest.raises(InputError, match="not a reference bank"):
        ReferenceBank.load(tmp_path / "shapes.npz")


def test_a_sequence_retrieves_by_its_smoothed_points_and_warps_onto_each_frames_own(train_split):
    from gan.kinds.drawing.reference import ReferenceTrack

    per_photo = train_split.photos[0].nbytes
    bank = train_split.bank(max_bytes=20 * per_photo)  # frames the bank does not hold drive it
    points, drawings = train_split.points, train_split.drawings
    track = ReferenceTrack(bank)
    first = track.inputs(drawings[0], points[0])
    np.testing.assert_array_equal(first, bank.inputs(drawings[0], points[0]))
    second = track.inputs(drawings[1], points[1])
    query = points[0] + ReferenceTrack.FOLLOW * (points[1] - points[0])
    np.testing.assert_array_equal(second, bank.inputs(drawings[1], points[1], *bank.choose(query)))
    track.reset()
    np.testing.assert_array_equal(
        track.inputs(drawings[1], points[1]), bank.inputs(drawings[1], points[1])
    )
    # A face moved by half its width is another face: retrieval starts from its own points.
    width = float(np.ptp(points[1][:, 0]))
    moved = points[1] + [0.5 * width, 0]
    np.testing.assert_array_equal(track.inputs(drawings[1], moved), bank.inputs(drawings[1], moved))
    # Over the video in order, the photos mixed change on fewer frames than retrieval per frame.
    track.reset()
    queries = []
    for p in points:
        track.inputs(drawings[0], p)
        queries.append(track.query.copy())

    def changes(qs):
        sets = [tuple(sorted(bank.choose(q)[0][:-1])) for q in qs]
        return sum(a != b for a, b in zip(sets, sets[1:], strict=False))

    assert changes(queries) < changes(points), (changes(queries), changes(points))


def test_a_split_reads_its_pictures_from_the_files_when_asked(sample_dataset):
    from gan.kinds.drawing.pairs import KEPT_PAIRS, load_split, read_pair

    split = load_split(sample_dataset, "train", 64)
    assert split.photos.files.read.cache_info().currsize == 0  # nothing read up front
    drawing, photo = read_pair(split.photos.files.paths[5], 64)
    np.testing.assert_array_equal(split.photos[5], photo)
    np.testing.assert_array_equal(split.drawings[5], drawing)
    assert split.photos[[5, 7]].shape == (2, 64, 64, 3) and split.photos[:3].shape[0] == 3
    for i in range(len(split)):
        split.photos[i]
    assert split.photos.files.read.cache_info().currsize == min(KEPT_PAIRS, len(split))
    # The held-out video's own frame-to-frame change, as evaluate measures the real frames'.
    tail = load_split(sample_dataset, "val", 64)
    steps = np.diff(np.stack(list(tail.photos)).astype(np.float32), axis=0)
    assert tail.change() == pytest.approx(float(np.abs(steps).mean()), rel=1e-5)


def test_a_run_says_how_much_of_the_training_pairs_it_sees():
    from gan.kinds.drawing.kind import seen_line

    assert "13.89 passes over the 108" in seen_line(1500, 108, 1)  # the sample
    assert "0.35 passes over the 4,318" in seen_line(1500, 4318, 1)  # franck's 200 s
    assert "--epochs 1" in seen_line(1500, 4318, 1) and "--epochs" not in seen_line(1500, 108, 1)


def test_the_warp_moves_a_point_only_as_far_as_it_is_off_by_more_than_noise(train_split):
    from common.regions import inter_ocular
    from gan.kinds.drawing.reference import (
        BROWS,
        EYELIDS,
        MOVED_POINTS,
        SETTLE,
        moved_points,
    )

    source = train_split.points[0]
    settle = SETTLE * inter_ocular(source)
    target = source.copy()
    target[8] += [0, 0.5 * settle]  # the chin, off by noise: stays
    target[57] += [0, 3 * settle]  # the lower lip, off by 3 noise-widths: moves 2 of them
    target[19] += [0, -2 * settle]  # a brow raised by 2: moves 1
    target[EYELIDS[0]] += [0, 0.5 * settle]  # an eyelid moves the whole way, however little
    target[30] += [5 * settle, 0]  # the nose tip is not moved at all
    moved = moved_points(source, target)
    np.testing.assert_allclose(moved[8], source[8], atol=1e-5)
    np.testing.assert_allclose(moved[57], source[57] + [0, 2 * settle], atol=1e-4)
    np.testing.assert_allclose(moved[19], source[19] + [0, -settle], atol=1e-4)
    np.testing.assert_allclose(moved[EYELIDS[0]], target[EYELIDS[0]], atol=1e-5)
    np.testing.assert_array_equal(moved[30], source[30])
    assert set(BROWS) <= set(MOVED_POINTS) and 30 not in MOVED_POINTS


def test_shut_eyes_come_from_photos_whose_eyes_are_shut(train_split):
    """A drawing whose lids meet gets its eyes from the photos nearest in eye openness (the
    sample's man blinks in a few frames), inside the eyes alone; open eyes change nothing."""
    from common.regions import eye_openness
    from gan.kinds.drawing.reference import EYE_FEATHER, EYE_GROW, EYES

    bank = train_split.bank(max_bytes=2**62, references=2)
    row = int(np.argmax(bank.openness))  # the widest open eyes
    points = bank.points[row].copy()
    plain = bank.reference(points, [row], [1.0])
    assert np.array_equal(plain, bank.warped(row, points))  # as open as its photo: untouched

    for eye in EYES:  # the lids meet at the eye's middle line
        upper, lower = eye[1:3], eye[4:6][::-1]
        middle = (points[upper] + points[lower]) / 2
        points[upper], points[lower] = middle, middle
    rows, weights = bank.eye_photos(points)
    assert eye_openness(points) < 0.01
    assert bank.openness[rows][weights > 0].max() < np.median(bank.openness) * 0.8
    shut = bank.reference(points, [row], [1.0])
    squashed = bank.warped(row, points)  # the open photo warped flat, as before
    changed = np.abs(shut.astype(int) - squashed.astype(int)).max(-1) > 8
    eyes_mask = np.maximum(*(hull_mask(points[e], bank.size, EYE_GROW, EYE_FEATHER) for e in EYES))
    assert changed.any()
    assert eyes_mask[changed].min() > 0  # nothing changed outside the eyes
