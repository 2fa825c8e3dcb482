"""The errors `gan` raises for a user's mistake (the command line turns each into one line)."""

from common.errors import InputError

__all__ = ["InputError", "TrainingDiverged"]


class TrainingDiverged(InputError):
    """The loss became NaN or exploded; training stopped and kept the last good checkpoint."""
