"""The app's name for the one user-error type, kept so that `from app.errors import` still works."""

from common.errors import InputError

__all__ = ["InputError"]
