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


def _require(accepted: bool, value, name, expected: str) -> None:
    """Raises the checks' ValueError (``"`name` must be <expected>. Received: ..."``) unless `accepted`."""
    if not accepted:
        raise ValueError(f"`{name}` must be {expected}. {_received(value, name)}")


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_finite_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def check_positive_int(value, name):
    """Returns `value` if it is an integer >= 1, else raises ValueError.

    Args:
        value: the argument to check (NumPy integers are accepted, bools are not).
        name: the argument's name, used in the error message.

    Example:

    >>> check_positive_int(8, "units")
    8
    """
    _require(_is_integer(value) and value >= 1, value, name, "a positive integer")
    return value


def check_non_negative_int(value, name):
    """Returns `value` if it is an integer >= 0, else raises ValueError (arguments as `check_positive_int`).

    >>> check_non_negative_int(0, "seed")
    0
    """
    _require(_is_integer(value) and value >= 0, value, name, "an integer >= 0")
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
    _require(isinstance(value, bool), value, name, "True or False")
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
    _require(_is_finite_real(value) and value > 0, value, name, "a finite number > 0")
    return float(value)


def check_non_negative_number(value, name):
    """Returns `value` as a float if it is a finite number >= 0, else raises ValueError.

    The arguments are those of `check_positive_number`.

    >>> check_non_negative_number(0, "weight_decay")
    0.0
    """
    _require(_is_finite_real(value) and value >= 0, value, name, "a finite number >= 0")
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
    in_range = _is_finite_real(value) and (0 <= value < 1 or (inclusive_high and value == 1))
    _require(in_range, value, name, f"a number in {'[0, 1]' if inclusive_high else '[0, 1)'}")
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
    _require(value in choices, value, name, f"one of {list(choices)}")
    return value


def check_positive_ints(value, name, length, example):
    """Returns `value` as a tuple of `length` integers >= 1, else raises ValueError.

    Args:
        value: the argument to check: a sequence (a string is not one).
        name: the argument's name, used in the error message (``name[i]`` for an element).
        length: how many integers it must hold.
        example: a valid value, shown in the error message.

    Example:

    >>> check_positive_ints([3, 4, 6, 3], "blocks_per_stage", 4, (3, 4, 6, 3))
    (3, 4, 6, 3)
    >>> check_positive_ints((3, 4), "blocks_per_stage", 4, (3, 4, 6, 3))
    Traceback (most recent call last):
    ...
    ValueError: `blocks_per_stage` must hold 4 positive integers, e.g. (3, 4, 6, 3). Received 2 values: blocks_per_stage=(3, 4).
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(
            f"`{name}` must be a sequence of {length} positive integers, e.g. {example}. "
            f"{_received(value, name)}"
        )
    if len(value) != length:
        raise ValueError(
            f"`{name}` must hold {length} positive integers, e.g. {example}. Received "
            f"{len(value)} values: {name}={tuple(value)!r}."
        )
    return tuple(int(check_positive_int(item, f"{name}[{index}]")) for index, item in enumerate(value))
