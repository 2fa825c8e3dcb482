"""The swap kind's run: the shared encoder and two decoders, one optimizer, the compiled step
with each person's masked L1 (and, when asked, a KL term and a discriminator per person:
variational.py), fresh warps every step, validation and what the bundle holds (gan.core.kind)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from gan.bundle.pictures import predict_uint8
from gan.core.devices import Devices
from gan.core.kind import BundleParts, Validation
from gan.core.step import compile_step, share
from gan.faces.data import draw_faces, masked_l1, shut_eye_faces, training_batch
from gan.faces.losses import loss_map, masked_mean
from gan.faces.people import bundle_fields
from gan.kinds.swap.variational import (
    Discriminators,
    adversarial,
    held_out_kl,
    kl_divergence,
    sample_code,
)

ADAM_BETA_1 = 0.5
PREVIEW_FACES = 4


def make_optimizer(lr: float, mixed: bool) -> Any:
    import keras

    from gan.core.schedule import fused_adam

    opt = fused_adam(lr, ADAM_BETA_1)
    return keras.optimizers.LossScaleOptimizer(opt) if mixed else opt


def people_terms(
    net: Any, discs: Any, batches: tuple[Any, Any], loss: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both people's shares of the step's terms, the target's then the user's: "l1" (the face
    loss, `loss`: the masked L1 or DSSIM + MSE), and "kl" (variational), "adv" and "disc" (with
    `discs`). What both people go through alike runs once on their faces put together: the
    shared encoder (and expand) and the face loss's map, a batch of 2·N, not two of N. Every
    layer and loss there sees each face alone, so the terms are what two passes give."""
    import tensorflow as tf

    (x_t, y_t, m_t), (x_u, y_u, m_u) = batches
    n = tf.shape(x_t)[0]
    halves = lambda v: tf.split(v, [n, n])  # noqa: E731
    x = tf.concat([x_t, x_u], axis=0)
    if not net.variational:
        codes, kls = net.encoder(x, training=True), (None, None)
    else:
        mu, logvar = net.encoder(x, training=True)
        codes = net.expand(sample_code(mu, logvar), training=True)
        # each person's share, a mean over their own faces, as if encoded alone
        kls = [share(kl_divergence(a, b)) for a, b in zip(halves(mu), halves(logvar), strict=True)]
    code_t, code_u = halves(codes)
    out_t = net.decode(net.decoder_target, code_t, x_t, training=True)
    out_u = net.decode(net.decoder_user, code_u, x_u, training=True)
    map_t, map_u = halves(loss_map(loss)(tf.concat([out_t, out_u], 0), tf.concat([y_t, y_u], 0)))
    found = []
    for out, y, m, face, kl, disc in (
        (out_t, y_t, m_t, map_t, kls[0], discs and discs.target),
        (out_u, y_u, m_u, map_u, kls[1], discs and discs.user),
    ):
        terms = {"l1": masked_mean(face, m)}
        if kl is not None:
            terms["kl"] = kl
        if disc is not None:
            terms["adv"], terms["disc"] = adversarial(disc, out, y, m)
        found.append(terms)
    return found[0], found[1]


def make_train_step(
    net: Any,
    optimizer: Any,
    xla: bool = False,
    strategy: Any = None,
    kl_weight: float = 0.0,
    adversarial_weight: float = 0.0,
    discs: Discriminators | None = None,
    loss: str = "l1",
) -> Callable[..., dict[str, Any]]:
    """One compiled step: both autoencoders forward, each person's masked face loss (`loss`,
    gan.faces.losses: "target_l1", "user_l1" whatever it is) (+ kl_weight · its KL term, +
    adversarial_weight · its LSGAN loss), one update of all; with `discs`, one update of both
    discriminators. Returns the face losses, and the weighted KL ("kl": what the objective
    adds, a mean over both people, on the face loss's scale) and the mean GAN losses ("adv",
    "disc") when they are on."""
    import tensorflow as tf

    variables = net.trainable_variables
    weights = {"kl": kl_weight, "adv": adversarial_weight}

    def replica_step(x_target, y_target, m_target, x_user, y_user, m_user):
        people = ((x_target, y_target, m_target), (x_user, y_user, m_user))
        with tf.GradientTape() as tape, tf.GradientTape() as d_tape:
            t, u = people_terms(net, discs, people, loss)
            total = t["l1"] + u["l1"]
            for k in ("kl", "adv"):
                if k in t:
                    total += weights[k] * (t[k] + u[k])
            objective = optimizer.scale_loss(total)
            if discs is not None:
                d_objective = discs.optimizer.scale_loss(t["disc"] + u["disc"])
        optimizer.apply(tape.gradient(objective, variables), variables)
        if discs is not None:
            d_vars = discs.trainable_variables
            discs.optimizer.apply(d_tape.gradient(d_objective, d_vars), d_vars)
        losses = {"target_l1": t["l1"], "user_l1": u["l1"]}
        if "kl" in t:  # weighted: a raw KL of a weakly held code may pass kind.max_loss
            losses["kl"] = kl_weight * (t["kl"] + u["kl"]) / 2.0
        for k in ("adv", "disc"):
            if k in t:
                losses[k] = (t[k] + u[k]) / 2.0
        return losses

    return compile_step(replica_step, strategy, xla)


def preview_grid(rows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """One row per (inputs, outputs): input | output side by side for each face, uint8."""
    return np.concatenate(
        [
            np.concatenate([np.concatenate([a, b], axis=1) for a, b in zip(x, y, strict=True)], 1)
            for x, y in rows
        ]
    )


def _spread(n: int, k: int) -> np.ndarray:
    """k indices spread over range(n) (fewer when n < k)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


@dataclasses.dataclass
class SwapTrainer:
    """A swap run's networks, optimizer, steps and faces (gan.core.kind.Trainer)."""

    cfg: Any
    people: Any  # gan.faces.people.People
    net: Any  # gan.kinds.swap.models.SwapNetworks
    optimizer: Any
    plain_step: Callable[..., dict[str, Any]]  # the autoencoders alone
    replicas: int
    discs: Discriminators | None = None  # --adversarial-weight's
    gan_step: Callable[..., dict[str, Any]] | None = None  # with the discriminators
    gan_start: int = 0  # the first step (0-based) that trains them: --gan-from of the steps
    steps_done: int | None = None  # updates so far, once train_step has read them

    @classmethod
    def build(cls, cfg: Any, people: Any, devices: Devices) -> SwapTrainer:
        from gan.kinds.swap.models import swap_networks

        with devices.strategy.scope():
            net = swap_networks(
                cfg.size,
                cfg.width,
                cfg.bottleneck,
                cfg.variational,
                cfg.eyes == "drawn",
                cfg.eye_opening,
            )
            optimizer = make_optimizer(cfg.lr, devices.mixed)
            optimizer.build(net.trainable_variables)  # so a checkpoint restores into its slots
            discs = None
            if cfg.adversarial_weight > 0:
                discs = Discriminators.build(
                    cfg.size,
                    cfg.disc_width or cfg.width,
                    make_optimizer(cfg.lr, devices.mixed),
                    cfg.disc_layers,
                )

        def step(with_discs: Discriminators | None) -> Callable[..., dict[str, Any]]:
            weight = cfg.adversarial_weight if with_discs is not None else 0.0
            return make_train_step(
                net,
                optimizer,
                devices.xla,
                devices.strategy,
                cfg.kl_weight,
                weight,
                with_discs,
                cfg.loss,
            )

        start = round(cfg.gan_from * cfg.steps)
        plain = step(None) if start > 0 or discs is None else None
        gan = step(discs) if discs is not None else None
        return cls(cfg, people, net, optimizer, plain or gan, devices.replicas, discs, gan, start)

    def train_step(self, *batch: Any) -> dict[str, Any]:
        """One step: the autoencoders alone before gan_start, with the discriminators from
        there. The steps are counted from the optimizer's count of updates at the first call,
        which a checkpoint restores, so a resumed run starts its GAN where a run without a break
        would."""
        if self.gan_step is None:
            return self.plain_step(*batch)
        if self.steps_done is None:  # read once: a mirrored variable syncs across replicas
            self.steps_done = int(np.asarray(self.optimizer.iterations))
        step = self.plain_step if self.steps_done < self.gan_start else self.gan_step
        self.steps_done += 1
        return step(*batch)

    @property
    def checkpoint(self) -> dict[str, Any]:
        """What a plain run has always checkpointed, and the parts of the options it uses."""
        parts = ("encoder", "decoder_target", "decoder_user")
        found = {**{name: getattr(self.net, name) for name in parts}, "optimizer": self.optimizer}
        if self.net.expand is not None:
            found["expand"] = self.net.expand
        if self.discs is not None:
            found.update(self.discs.checkpoint)
        return found

    def batches(self, start: int) -> Any:
        """Endless global batches (--batch-size faces of each person per replica), freshly warped
        every step; a resumed run draws new ones."""
        import tensorflow as tf

        cfg, p = self.cfg, self.people
        batch, w = cfg.batch_size * self.replicas, cfg.feature_weight
        rng = np.random.default_rng(cfg.seed + start)

        warped_steps = round(cfg.warp_until * cfg.steps) if cfg.warp else 0
        share = cfg.shut_eyes
        shut_t, shut_u = (shut_eye_faces(f.points) for f in (p.target, p.user))

        def draw():
            step = start
            while True:
                warp = step < warped_steps
                picks_t = draw_faces(len(p.target), batch, rng, shut_t, share) if share else None
                picks_u = draw_faces(len(p.user), batch, rng, shut_u, share) if share else None
                t = training_batch(p.target, batch, rng, warp, cfg.flip, w, picks_t)
                u = training_batch(p.user, batch, rng, warp, cfg.flip, w, picks_u)
                step += 1
                yield (*t, *u)

        channels = p.target.inputs.shape[-1]  # 4 with the eyes drawn (common.eyes)
        x = tf.TensorSpec((batch, cfg.size, cfg.size, channels), tf.float32)
        face = tf.TensorSpec((batch, cfg.size, cfg.size, 3), tf.float32)
        mask = tf.TensorSpec((batch, cfg.size, cfg.size, 1), tf.float32)
        spec = (x, face, mask) * 2
        return tf.data.Dataset.from_generator(draw, output_signature=spec).prefetch(1)

    def validate(self, step: int) -> Validation:
        """Masked L1 of each person's reconstruction on held-out faces (and, variational, the
        KL term over both people's: "val_kl"); a preview: target -> target, user -> user, user
        -> target."""
        p, net = self.people, self.net
        t_out = predict_uint8(net.to_target, p.target_val.inputs, batch=16)
        u_out = predict_uint8(net.to_user, p.user_val.inputs, batch=16)
        metrics = {
            "val_l1_target": masked_l1(t_out, p.target_val.images, p.target_val.masks),
            "val_l1_user": masked_l1(u_out, p.user_val.images, p.user_val.masks),
        }
        if net.variational:
            both = np.concatenate([p.target_val.inputs, p.user_val.inputs])
            metrics["val_kl"] = held_out_kl(net.encoder, both)
        record = {
            "split": dict(p.val_split),
            "faces": {"target": len(p.target_val), "user": len(p.user_val)},
            "step": step,
            "metric": "mean absolute error inside the dilated hull, [0, 1] scale",
        }
        pick_t = _spread(len(p.target_val), PREVIEW_FACES)
        pick_u = _spread(len(p.user_val), PREVIEW_FACES)
        swapped = predict_uint8(net.to_target, p.user_val.inputs[pick_u], batch=16)
        grid = preview_grid(
            [
                (p.target_val.images[pick_t], t_out[pick_t]),
                (p.user_val.images[pick_u], u_out[pick_u]),
                (p.user_val.images[pick_u], swapped),
            ]
        )
        line = "val masked L1 target {:.4f}, user {:.4f}".format(*metrics.values())
        if "val_kl" in metrics:
            line += f", KL {metrics['val_kl']:.4f}"
        return Validation(metrics, record, grid, "target→target | user→user | user→target", line)

    def bundle(self, step: int) -> BundleParts:
        from gan.kinds.swap.bundle import TARGET_FILE, USER_FILE

        cfg = self.cfg
        info = {
            **bundle_fields(self.people, cfg.size, cfg.forehead),
            "width": cfg.width,
            "bottleneck": cfg.bottleneck,
            "variational": cfg.variational,
            "kl_weight": cfg.kl_weight,
            "adversarial_weight": cfg.adversarial_weight,
            "recipe": cfg.recipe,
            "loss": cfg.loss,
        }
        return BundleParts({TARGET_FILE: self.net.to_target, USER_FILE: self.net.to_user}, info)

    def progress(self, values: dict[str, float]) -> dict[str, str]:
        shown = {"target": values["target_l1"], "user": values["user_l1"]}
        shown.update({k: values[k] for k in ("adv", "disc") if k in values})
        found = {k: f"{v:.4f}" for k, v in shown.items()}
        if "kl" in values:  # weighted, often under 1e-4
            found["kl"] = f"{values['kl']:.3g}"
        return found

    def learning_rate(self, step: int) -> None:
        return None  # constant: TensorBoard gets the losses alone

    def summary(self) -> dict[str, Any]:
        found = {"optimizer_iterations": int(np.asarray(self.optimizer.iterations))}
        if self.discs is not None:
            found["disc_optimizer_iterations"] = int(np.asarray(self.discs.optimizer.iterations))
        return found
