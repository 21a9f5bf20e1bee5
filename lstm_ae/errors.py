"""Errors a user can act on: printed as one line, before any training starts."""


class ConfigError(ValueError):
    """A configuration value is out of range or unknown; the message names the key."""


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file and the fix."""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message (its type's name when it has none), for one-line errors."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if limit is None else line[:limit]
