"""The one error type for a user's mistake; every command prints it as one line and exits 2."""


class InputError(Exception):
    """Bad input from the user: a missing or malformed file, a bad option, an unwritable output."""
