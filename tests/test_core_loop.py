"""The training loop's parts that need no training: the estimate line and the step cap."""

from __future__ import annotations

import logging
import re

from gan.core import loop


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_estimate_is_said_once_after_the_first_timed_steps(monkeypatch):
    paced, said = logging.getLogger("gan.core.loop"), Lines()
    paced.addHandler(said)
    monkeypatch.setattr(paced, "level", logging.INFO)
    try:
        pace = loop.Pace(start=10, total=500)
        for step in range(11, 11 + loop.RATE_STEPS):  # the compiled step, then 19 more
            pace.step(step)
        assert not said.lines
        for step in range(11 + loop.RATE_STEPS, 100):
            pace.step(step)
    finally:
        paced.removeHandler(said)
    assert len(said.lines) == 1, said.lines
    to_go = 500 - (11 + loop.RATE_STEPS)
    pattern = rf"about \d+ minutes? here \([\d.]+ steps/s, {to_go} steps to go\)"
    assert re.fullmatch(pattern, said.lines[0]), said.lines


def test_the_step_cap_only_lowers(monkeypatch):
    monkeypatch.setenv(loop.MAX_STEPS_ENV, "7")
    assert loop.step_limit(1500) == 7 and loop.step_limit(3) == 3
    monkeypatch.delenv(loop.MAX_STEPS_ENV)
    assert loop.step_limit(1500) == 1500
