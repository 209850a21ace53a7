"""The one error type that reaches users as a single line and exit code 2."""


class UserError(Exception):
    """A problem with the user's input (files, options, values) that they can fix.

    The message names the problem and the fix in one line; the CLI prints it as
    ``sslab: error: <message>`` and exits with code 2, without a traceback.
    """

    exit_code = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so a run stops as it does on Ctrl-C (the CLI exits 143)."""

    exit_code = 143
