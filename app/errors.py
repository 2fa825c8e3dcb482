"""The one error type `app` raises for a user's mistake; command lines print it as one line."""


class InputError(Exception):
    """Bad input from the user: a source that cannot be opened, an output that cannot be written."""
