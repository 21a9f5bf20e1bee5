"""Errors a user can act on: printed as one line, before any training starts."""


class ConfigError(ValueError):
    """A configuration value is out of range or unknown; the message names the key."""


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file and the fix."""
