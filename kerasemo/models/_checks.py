"""Constructor-argument checks shared by the models (errors say what was received)."""


def check_positive_int(value, name):
    """Raises ValueError unless `value` is an int >= 1 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r} "
            f"(type {type(value).__name__})."
        )


def check_bool(value, name):
    """Raises ValueError unless `value` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be True or False. Received: {name}={value!r} "
            f"(type {type(value).__name__})."
        )
