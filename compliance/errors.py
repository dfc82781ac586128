"""Errors that reach the user as one line and an exit code, never as a traceback."""


class UsageError(Exception):
    """Bad input: the CLI prints the message and exits 2."""

    exit_code = 2


class IntegrityError(UsageError):
    """Stored or packed data no longer matches its seal or signature: the CLI prints the message and
    exits 1, since this is a finding about the data, not a mistake in how comply was called."""

    exit_code = 1
