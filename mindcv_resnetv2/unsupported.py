"""MindCV arguments that cannot mean anything here are refused with the reason, never accepted and ignored."""
from .errors import InvalidInputError


def refuse_unless_default(function, name, value, default, reason):
    """Raise InvalidInputError naming `function`'s argument `name` and why, unless `value` is its `default`."""
    if value is default or value == default:
        return
    raise InvalidInputError(f"{function}: {name}={value!r} is not supported: {reason}; leave it {default!r}")
