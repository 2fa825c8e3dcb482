"""The one error type that `gan` raises for a user's mistake (the CLI turns it into one line)."""


class InputError(Exception):
    """Bad input from the user: a missing or malformed dataset, bundle or run directory."""


class TrainingDiverged(InputError):
    """The loss became NaN or exploded; training stopped and kept the last good checkpoint."""
