"""Ctrl-C and SIGTERM close the window as its close button does.

Qt's event loop runs in C++, and Python runs a signal's handler only once the interpreter gets
control again, which in the window happens only inside a slot (and then in the middle of it).
So the handlers here do nothing themselves: `signal.set_wakeup_fd` makes Python write each
signal's number to one end of a socket pair, and a QSocketNotifier on the other end wakes the
event loop at once, between events, where the window is closed. A timer that wakes the
interpreter every few hundred milliseconds would do too, but it costs wake-ups forever, adds up to
its period to each signal, and closes the window from inside whatever slot was running.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

from PyQt5.QtCore import QSocketNotifier
from PyQt5.QtWidgets import QWidget

log = logging.getLogger(__name__)

CLOSING_SIGNALS = (signal.SIGINT, signal.SIGTERM)
BY_SIGNAL = "closing_by_signal"  # the window's property while a signal closes it


def _noted(signum: int, frame: FrameType | None) -> None:
    """The Python handler: the byte on the wakeup socket is the message, the notifier acts on it.
    (A Python handler must be installed all the same: without one, Python writes no byte.)"""


@contextlib.contextmanager
def closed_by_signals(
    window: QWidget, signums: tuple[signal.Signals, ...] = CLOSING_SIGNALS
) -> Iterator[None]:
    """While the body runs (the event loop), each of `signums` closes `window`; the handlers and
    wakeup descriptor before it are put back after. Outside the main thread, where Python allows
    no handler, nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reader, writer = socket.socketpair()
    for end in (reader, writer):
        end.setblocking(False)  # set_wakeup_fd wants it, and a full buffer must never block
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    old_handlers = {s: signal.signal(s, _noted) for s in signums}
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Read)

    def received() -> None:
        try:
            numbers = reader.recv(64)
        except BlockingIOError:
            return
        asked = [signal.Signals(n).name for n in numbers if n in signums]
        if asked and window.isVisible():  # a second Ctrl-C while closing has nothing to add
            log.info("%s: closing the window", asked[0])
            # The window closes without asking (a training in it stops and saves first).
            window.setProperty(BY_SIGNAL, True)
            window.close()

    notifier.activated.connect(received)
    try:
        yield
    finally:
        notifier.setEnabled(False)
        for s, handler in old_handlers.items():
            # None: the handler was not Python's (nor can Python put one of C's back).
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        signal.set_wakeup_fd(old_fd)
        reader.close()
        writer.close()
