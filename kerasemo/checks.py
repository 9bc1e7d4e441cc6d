"""Argument checks shared by every layer of kerasemo (errors say what was received).

Each check returns the value it accepted, so a constructor can write
``self.units = check_positive_int(units, "units")``. Booleans are never accepted as numbers:
``True`` is an ``int`` in Python, and a flag passed where a count belongs is a bug worth naming.

Example:

>>> check_positive_int(3, "batch_size")
3
>>> check_positive_int(0, "batch_size")
Traceback (most recent call last):
...
ValueError: `batch_size` must be a positive integer. Received: batch_size=0 (type int).
"""

from __future__ import annotations

import math
import numbers


def _received(value, name) -> str:
    return f"Received: {name}={value!r} (type {type(value).__name__})."


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive_int(value, name):
    """Returns `value` if it is an integer >= 1, else raises ValueError.

    Args:
        value: the argument to check (NumPy integers are accepted, bools are not).
        name: the argument's name, used in the error message.

    Example:

    >>> check_positive_int(8, "units")
    8
    """
    if not _is_integer(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. {_received(value, name)}")
    return value


def check_non_negative_int(value, name):
    """Returns `value` if it is an integer >= 0, else raises ValueError.

    Args:
        value: the argument to check (NumPy integers are accepted, bools are not).
        name: the argument's name, used in the error message.

    Example:

    >>> check_non_negative_int(0, "seed")
    0
    """
    if not _is_integer(value) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0. {_received(value, name)}")
    return value


def check_bool(value, name):
    """Returns `value` if it is True or False, else raises ValueError.

    Args:
        value: the argument to check.
        name: the argument's name, used in the error message.

    Example:

    >>> check_bool(True, "mirror")
    True
    """
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. {_received(value, name)}")
    return value


def check_positive_number(value, name):
    """Returns `value` as a float if it is a finite real number > 0, else raises ValueError.

    Args:
        value: the argument to check (ints and floats; bools are refused).
        name: the argument's name, used in the error message.

    Example:

    >>> check_positive_number(2, "temperature")
    2.0
    """
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0. {_received(value, name)}")
    return float(value)


def check_non_negative_number(value, name):
    """Returns `value` as a float if it is a finite real number >= 0, else raises ValueError.

    Args:
        value: the argument to check (ints and floats; bools are refused).
        name: the argument's name, used in the error message.

    Example:

    >>> check_non_negative_number(0, "weight_decay")
    0.0
    """
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0. {_received(value, name)}")
    return float(value)


def check_fraction(value, name, *, inclusive_high: bool = False):
    """Returns `value` as a float if it lies in [0, 1) (or [0, 1]), else raises ValueError.

    Args:
        value: the argument to check (ints and floats; bools are refused).
        name: the argument's name, used in the error message.
        inclusive_high: accept 1.0 as well.

    Example:

    >>> check_fraction(0.5, "dropout")
    0.5
    """
    high_ok = inclusive_high and _is_real(value) and value == 1
    if not _is_real(value) or not (0 <= value < 1 or high_ok):
        interval = "[0, 1]" if inclusive_high else "[0, 1)"
        raise ValueError(f"`{name}` must be a number in {interval}. {_received(value, name)}")
    return float(value)


def check_choice(value, name, choices):
    """Returns `value` if it is one of `choices`, else raises ValueError listing them.

    Args:
        value: the argument to check.
        name: the argument's name, used in the error message.
        choices: the accepted values.

    Example:

    >>> check_choice("max", "pooling", ("max", "mean"))
    'max'
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}. {_received(value, name)}")
    return value
