"""The status bar: stage times, rate, latency, face, retargeting, source, model, recording."""

from __future__ import annotations

import math
from pathlib import Path

from app.live import LiveSession

STAGE_LABELS = (("landmarks", "landmarks"), ("generator", "generator"), ("sinks", "view"))


def status_text(session: LiveSession, face_cue: str = "") -> str:
    """The whole line, parts joined by " | "; `face_cue`: Record my face's countdown, first."""
    stats, mode = session.stats(), session.mode
    parts = [] if stats is None else pipeline_status(stats, session.calibrating, mode.held)
    if stats is not None:
        parts.append(mode.status(session.retarget, session.retargeting))
        if session.face_note:  # "face covered" / "new person" (app.occlusion)
            parts.append(session.face_note)
    parts.append(session.source_status)
    parts.append(_model_part(session))
    if face_cue:
        parts.insert(0, f"recording your face, {face_cue}")
    if session.recorded_frames is not None:
        parts.append(f"REC {session.recorded_frames}")
    cam = session.virtual_camera
    if cam is not None:
        parts.append(cam.error or "virtual camera")
    return " | ".join(parts)


def _model_part(session: LiveSession) -> str:
    if session.loading:
        return "loading model…"
    if not session.model_path:
        return "no model"
    bundle = session.bundle
    backend = f" on {bundle.backend_label}" if bundle is not None else ""
    return f"{session.mode.model_label} {model_name(session.model_path)}{backend}"


def pipeline_status(
    stats: dict, calibrating: bool, held: str = "holding the last output"
) -> list[str]:
    """The running pipeline's part of the status bar: stage times, rate, latency, face."""
    sm = stats["stage_ms"]
    parts = [" · ".join(f"{label} {ms(sm[name]['mean'])}" for name, label in STAGE_LABELS)]
    lat = stats["latency_ms"]
    parts.append(f"{stats['fps']:.1f} FPS")
    parts.append(f"latency {ms(lat['p50'])} (p95 {ms(lat['p95'])})")
    parts.append("face" if stats["face"] else f"NO FACE: {held}")
    if calibrating and stats["face"]:
        parts.append("calibrating")
    return parts


def model_name(path: str) -> str:
    """A short name for a bundle: train-pix2pix writes RUN/model, so the run's name says more."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.name == "model" and p.parent.name else p.name


def ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
