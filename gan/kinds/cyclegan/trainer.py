"""The CycleGAN kind's run: both generators and discriminators, their optimizers, the history
pools, the compiled step with every loss, validation and the bundle (gan.core.kind)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from gan.blocks import gan_loss
from gan.bundle.pictures import predict_uint8
from gan.core.devices import Devices
from gan.core.kind import BundleParts, Validation
from gan.core.schedule import lr_at, make_optimizer
from gan.core.step import compile_step, share
from gan.errors import InputError
from gan.faces.data import masked_l1
from gan.faces.losses import face_l1
from gan.faces.people import bundle_fields
from gan.kinds.cyclegan.data import Person, cycle_batch, temporal_batch
from gan.kinds.cyclegan.parts import HistoryPool, mess_up

PREVIEW_FACES = 4
LAYERS_DOWN = 3  # the PatchGANs' stride-2 blocks: 34-px patches at 64 px


def lsgan(logits: Any, real: bool) -> Any:
    """This replica's share of the least-squares GAN loss of a patch map."""
    return share(gan_loss(logits, real, "lsgan"))


def generator_losses(net: Any, cfg: Any, target: tuple, user: tuple):
    """(the generators' objective, its parts, the two fakes) for one replica's faces: each
    person's (faces, outline weights, facial parts[, previous frames, next frames, their outline
    weights]): t, u the target's and user's faces, w* their outlines, a* their facial parts."""
    (t, wt, at), (u, wu, au) = target[:3], user[:3]
    to_target, to_user = net.to_target, net.to_user
    fake_t, fake_u = to_target(u, training=True), to_user(t, training=True)
    rec_u = to_user(mess_up(fake_t, cfg.mess_up), training=True)
    rec_t = to_target(mess_up(fake_u, cfg.mess_up), training=True)
    parts = {
        "adv": lsgan(net.judge_target(fake_t), True) + lsgan(net.judge_user(fake_u), True),
        "cycle": face_l1(rec_u, u, wu) + face_l1(rec_t, t, wt),
    }
    total = parts["adv"] + cfg.cycle_weight * parts["cycle"]
    if cfg.identity_weight > 0:
        same_t, same_u = to_target(t, training=True), to_user(u, training=True)
        parts["identity"] = face_l1(same_t, t, wt) + face_l1(same_u, u, wu)
        total += cfg.identity_weight * cfg.cycle_weight * parts["identity"]
    if cfg.attention_weight > 0:
        parts["attention"] = face_l1(rec_u, u, au) + face_l1(rec_t, t, at)
        total += cfg.attention_weight * parts["attention"]
    if cfg.cycle_1_5_weight > 0:  # once more around: user→target→user→target, and back
        thrice_t, thrice_u = to_target(rec_u, training=True), to_user(rec_t, training=True)
        parts["adv_1_5"] = lsgan(net.judge_target(thrice_t), True) + lsgan(
            net.judge_user(thrice_u), True
        )
        total += cfg.cycle_1_5_weight * parts["adv_1_5"]
    if cfg.recycle > 0:
        parts["recycle"] = recycle_loss(net, target, user, fake_t, fake_u)
        total += cfg.recycle * parts["recycle"]
    return total, parts, fake_t, fake_u


def recycle_loss(net: Any, target: tuple, user: tuple, fake_t: Any, fake_u: Any) -> Any:
    """Recycle-GAN's terms: each person's next frame predicted from the two before it
    (recurrent), and the same through the other person (recycle: both frames translated, the
    other side's predictor, translated back)."""
    import tensorflow as tf

    (t, _, _, t_prev, t_next, wt_next), (u, _, _, u_prev, u_next, wu_next) = target, user
    to_target, to_user = net.to_target, net.to_user
    pair = lambda a, b: tf.concat([a, b], -1)  # noqa: E731
    recurrent = face_l1(net.predict_user(pair(u_prev, u), training=True), u_next, wu_next)
    recurrent += face_l1(net.predict_target(pair(t_prev, t), training=True), t_next, wt_next)
    ahead_t = net.predict_target(pair(to_target(u_prev, training=True), fake_t), training=True)
    ahead_u = net.predict_user(pair(to_user(t_prev, training=True), fake_u), training=True)
    recycle = face_l1(to_user(ahead_t, training=True), u_next, wu_next)
    recycle += face_l1(to_target(ahead_u, training=True), t_next, wt_next)
    return recurrent + recycle


def make_train_step(
    net: Any,
    optimizers: tuple[Any, Any],
    pools: tuple[HistoryPool, HistoryPool],
    cfg: Any,
    xla: bool = False,
    strategy: Any = None,
) -> Callable[..., dict[str, Any]]:
    """One compiled step: the generators' update, then the discriminators' on real faces and
    the pools' fakes."""
    import tensorflow as tf

    g_opt, d_opt = optimizers
    g_vars, d_vars = net.generator_variables, net.discriminator_variables

    def replica_step(*batch):
        half = len(batch) // 2
        target, user = batch[:half], batch[half:]
        t, u = target[0], user[0]
        with tf.GradientTape() as tape:
            total, parts, fake_t, fake_u = generator_losses(net, cfg, target, user)
            objective = g_opt.scale_loss(total)
        g_opt.apply(tape.gradient(objective, g_vars), g_vars)
        old_t, old_u = pools[0](tf.stop_gradient(fake_t)), pools[1](tf.stop_gradient(fake_u))
        with tf.GradientTape() as tape:
            judge_t = lsgan(net.judge_target(t, training=True), True) + lsgan(
                net.judge_target(old_t, training=True), False
            )
            judge_u = lsgan(net.judge_user(u, training=True), True) + lsgan(
                net.judge_user(old_u, training=True), False
            )
            disc = 0.5 * (judge_t + judge_u)
            objective = d_opt.scale_loss(disc)
        d_opt.apply(tape.gradient(objective, d_vars), d_vars)
        return {**parts, "disc": disc}

    return compile_step(replica_step, strategy, xla)


def person(people: Any, role: str, recycle: bool) -> Person:
    """One person's training faces with their maps, and their frame triplets; InputError when
    Recycle-GAN is asked for and the dataset has no run of three neighbouring frames."""
    dataset, faces = people.datasets[role], getattr(people, role)
    index, rows = dataset.landmarks, dataset.rows("train")
    frame = None if index.frame is None else index.frame[rows]
    source = None if index.source is None else index.source[rows]
    found = Person.of(faces, frame, source)
    if recycle and len(found.triplets) == 0:
        raise InputError(
            f"--recycle needs neighbouring frames of one video, and the {role} dataset "
            f"{dataset.root} has no three in a row"
        )
    return found


def _spread(n: int, k: int) -> np.ndarray:
    """k indices spread over range(n) (fewer when n < k)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def _grid(rows: list[np.ndarray]) -> np.ndarray:
    """Each row's faces side by side, rows one under another, short rows padded black."""
    strips = [np.concatenate(list(faces), axis=1) for faces in rows]
    width = max(strip.shape[1] for strip in strips)
    return np.concatenate([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in strips])


@dataclasses.dataclass
class CycleTrainer:
    """A CycleGAN run's networks, optimizers, pools, step and faces (gan.core.kind.Trainer)."""

    cfg: Any
    people: Any  # gan.faces.people.People
    persons: tuple[Person, Person]  # target, user, with their weight maps
    net: Any  # gan.kinds.cyclegan.models.CycleNetworks
    optimizers: tuple[Any, Any]
    train_step: Callable[..., dict[str, Any]]
    replicas: int

    @classmethod
    def build(cls, cfg: Any, people: Any, devices: Devices) -> CycleTrainer:
        from gan.kinds.cyclegan.models import cycle_networks

        with devices.strategy.scope():
            net = cycle_networks(
                cfg.size, cfg.ngf, cfg.blocks, cfg.ndf, LAYERS_DOWN, recycle=cfg.recycle > 0
            )
            g_opt = make_optimizer(cfg.lr, cfg.steps, devices.mixed)
            d_opt = make_optimizer(cfg.lr, cfg.steps, devices.mixed)
            g_opt.build(net.generator_variables)  # so a checkpoint restores into their slots
            d_opt.build(net.discriminator_variables)
            shape = (cfg.size, cfg.size, 3)
            pools = (HistoryPool(cfg.pool, shape), HistoryPool(cfg.pool, shape))
        step = make_train_step(net, (g_opt, d_opt), pools, cfg, devices.xla, devices.strategy)
        persons = (
            person(people, "target", cfg.recycle > 0),
            person(people, "user", cfg.recycle > 0),
        )
        return cls(cfg, people, persons, net, (g_opt, d_opt), step, devices.replicas)

    @property
    def checkpoint(self) -> dict[str, Any]:
        nets = {net.name: net for net in self.net.predictors}  # Recycle-GAN's, when on
        for name in ("to_target", "to_user", "judge_target", "judge_user"):
            nets[name] = getattr(self.net, name)
        return {**nets, "g_optimizer": self.optimizers[0], "d_optimizer": self.optimizers[1]}

    def batches(self, start: int) -> Any:
        """Endless global batches (--batch-size faces of each person per replica); a resumed
        run draws new ones."""
        import tensorflow as tf

        cfg = self.cfg
        batch = cfg.batch_size * self.replicas
        rng = np.random.default_rng(cfg.seed + start)
        target, user = self.persons

        draw_one = temporal_batch if cfg.recycle > 0 else cycle_batch

        def draw():
            while True:
                yield (*draw_one(target, batch, rng), *draw_one(user, batch, rng))

        face = tf.TensorSpec((batch, cfg.size, cfg.size, 3), tf.float32)
        mask = tf.TensorSpec((batch, cfg.size, cfg.size, 1), tf.float32)
        spec = (face, mask, mask, face, face, mask) if cfg.recycle > 0 else (face, mask, mask)
        spec = spec * 2
        return tf.data.Dataset.from_generator(draw, output_signature=spec).prefetch(1)

    def validate(self, step: int) -> Validation:
        """Each person's held-out faces around their cycle (masked L1); a preview: user →
        target → user, and target → user → target."""
        p, net = self.people, self.net
        swapped = predict_uint8(net.to_target, p.user_val.images, batch=16)
        back_u = predict_uint8(net.to_user, swapped, batch=16)
        turned = predict_uint8(net.to_user, p.target_val.images, batch=16)
        back_t = predict_uint8(net.to_target, turned, batch=16)
        metrics = {
            "val_cycle_user": masked_l1(back_u, p.user_val.images, p.user_val.masks),
            "val_cycle_target": masked_l1(back_t, p.target_val.images, p.target_val.masks),
        }
        record = {
            "split": dict(p.val_split),
            "faces": {"target": len(p.target_val), "user": len(p.user_val)},
            "step": step,
            "metric": "each person's face around its cycle: mean absolute error inside the "
            "outline, [0, 1] scale",
        }
        pick_u = _spread(len(p.user_val), PREVIEW_FACES)
        pick_t = _spread(len(p.target_val), PREVIEW_FACES)
        grid = _grid(
            [
                p.user_val.images[pick_u], swapped[pick_u], back_u[pick_u],
                p.target_val.images[pick_t], turned[pick_t], back_t[pick_t],
            ]
        )  # fmt: skip
        line = "val cycle L1 user {:.4f}, target {:.4f}".format(*metrics.values())
        caption = "rows: user, → target, → back | target, → user, → back"
        return Validation(metrics, record, grid, caption, line)

    def bundle(self, step: int) -> BundleParts:
        from gan.kinds.cyclegan.bundle import TARGET_FILE, USER_FILE

        cfg = self.cfg
        recipe = (
            "ngf", "blocks", "ndf", "cycle_weight", "identity_weight", "attention_weight",
            "mess_up", "cycle_1_5_weight", "pool", "recycle",
        )  # fmt: skip
        info = {
            **bundle_fields(self.people, cfg.size, cfg.forehead),
            **{name: getattr(cfg, name) for name in recipe},
        }
        return BundleParts({TARGET_FILE: self.net.to_target, USER_FILE: self.net.to_user}, info)

    def progress(self, values: dict[str, float]) -> dict[str, str]:
        return {k: f"{values[k]:.3f}" for k in ("adv", "cycle", "disc")}

    def learning_rate(self, step: int) -> float:
        return lr_at(self.cfg.lr, self.cfg.steps, step)

    def summary(self) -> dict[str, Any]:
        return {"optimizer_iterations": int(np.asarray(self.optimizers[0].iterations))}
