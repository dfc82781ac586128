"""Errors that reach the user as one line and an exit code, never as a traceback."""


class UsageError(Exception):
    """Bad input: the CLI prints the message and exits 2."""

    exit_code = 2
