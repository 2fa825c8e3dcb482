"""What every stage shares: the user-error type, atomic file writes and the command-line ending."""

from common.errors import InputError

__all__ = ["InputError"]
