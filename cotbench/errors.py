"""The one exception type users see as a one-line message (the CLI prints it, exit 2)."""


class CotbenchError(ValueError):
    """Bad input: the message names the bad value and what was expected."""
