"""The errors a user can fix: the command-line entry points print these as one line, every other exception
keeps its traceback (a bug of ours or a MindSpore failure needs its location).

Every class also derives from the built-in class a library caller would expect (ValueError, FileNotFoundError,
RuntimeError, OSError), so `except ValueError` keeps catching what it caught before.
"""


class UserError(Exception):
    """A mistake in what the user gave (recipe, files, data, launch, run folder); the message says how to fix it."""


class InvalidInputError(UserError, ValueError):
    """A value, file or dataset the user gave that cannot be used as it is."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""
