"""The landmark stage's name for the one user-error type, kept so that old imports still work."""

from common.errors import InputError

__all__ = ["InputError"]
