"""The two ways fetching a checkpoint can fail: it is not there, or it is not sound."""


class CheckpointNotFoundError(LookupError):
    """No checkpoint under that name, directory, Hub repo or revision (or, offline, not cached)."""


class CheckpointError(ValueError):
    """A checkpoint's files are malformed, corrupted, or do not match the architecture they name."""
