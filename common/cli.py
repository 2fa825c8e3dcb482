"""The ending every command shares, and a quiet start: TensorFlow's C++ logs stay out of the way."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator

from common.errors import InputError

INTERRUPTED = 130  # the shell's code for Ctrl-C


def run_command(prog: str, body: Callable[[], int | None], interrupted: str = "interrupted") -> int:
    """Run a command's body: a user error is one line and exit 2, Ctrl-C one line and 130.

    Anything else is a bug and keeps its traceback.
    """
    try:
        return body() or 0
    except InputError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return INTERRUPTED


@contextlib.contextmanager
def quiet_native_stderr(verbose: bool = False) -> Iterator[None]:
    """Hold back what native code writes to stderr (TensorFlow's absl, CUDA and oneDNN notes).

    TF_CPP_MIN_LOG_LEVEL does not reach the lines absl prints before it is initialised, so the
    descriptor itself is pointed at a file for the duration; if the body fails, what was held
    back is replayed so that nothing needed for a bug report is lost (not for an InputError).
    """
    if verbose:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        except InputError:
            failed = False  # the user's mistake, said in one line: the notes would only bury it
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                held.seek(0)
                sys.stderr.write(held.read().decode("utf-8", "replace"))


def import_tensorflow(verbose: bool = False):  # noqa: ANN201 - the module
    """Import TensorFlow without its start-up noise (unless `verbose`), and return it."""
    with quiet_native_stderr(verbose):
        import tensorflow as tf

        tf.get_logger().setLevel(logging.DEBUG if verbose else logging.ERROR)
    return tf
