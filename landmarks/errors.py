"""The one error type for a user's mistake in the landmark stage; command lines print it as one line."""


class InputError(Exception):
    """Bad input from the user (a missing file, a file that is not a video, a bad option)."""
