"""The one error type that reaches users as a single line and exit code 2."""


class UserError(Exception):
    """A problem with the user's input (files, options, values) that they can fix.

    The message names the problem and the fix in one line; the CLI prints it as
    ``sslab: error: <message>`` and exits with code 2, without a traceback.
    """

    exit_code = 2


_OS_HINTS = {
    "ENOSPC": "free some space",
    "EDQUOT": "free some space (disk quota exceeded)",
    "EROFS": "choose a writable folder (this one is on a read-only file system)",
    "EACCES": "choose a folder you may write to",
    "EPERM": "choose a folder you may write to",
    "ENAMETOOLONG": "choose a shorter name",
    "ENOTDIR": "a file stands where a folder is needed; choose another path",
    "EEXIST": "something is already there; choose another path",
    "EISDIR": "a folder stands where a file is needed; choose another path",
    "ENOENT": "check the path",
}


def os_error_message(exc: OSError, then: str = "") -> str:
    """One line for a failed read or write: the path, the system's reason (``No space left on
    device``) and the fix; ``then`` says how to carry on afterwards."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    path = exc.filename if exc.filename is not None else "writing a file"
    cause = exc.strerror or str(exc) or type(exc).__name__
    hint = _OS_HINTS.get(name, "check the path and the disk")
    return f"{path}: {cause}; {hint}" + (f", {then}" if then else "")


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so a run stops as it does on Ctrl-C (the CLI exits 143)."""

    exit_code = 143
