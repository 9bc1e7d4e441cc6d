"""The authors' SGD settings for Keras: learning rates, weight decay and their schedules.

The authors (MatConvNet) sum the loss over the batch and add weight decay to the gradient before
momentum. kerasemo averages losses over the batch (so logged values do not depend on the batch
size), which divides every gradient by the batch size B; multiplying the learning rate by B and
dividing the coupled weight decay by B gives the authors' parameter update exactly:

    authors:   v <- m v - lr (sum_i g_i + wd w)
    kerasemo:  v <- m v - (lr B) (mean_i g_i + (wd / B) w)      (identical)

Example:

>>> authors_learning_rate(1e-4, batch_size=64)
0.0064
>>> authors_weight_decay(5e-4, batch_size=64)
7.8125e-06
"""

from __future__ import annotations

import math

from kerasemo.checks import check_positive_int


def authors_learning_rate(learning_rate: float, batch_size: int) -> float:
    """The learning rate for a batch-mean loss that reproduces the authors' summed-loss step.

    Args:
        learning_rate: the authors' rate, per summed-loss step.
        batch_size: examples per batch.

    Example:

    >>> authors_learning_rate(1e-3, batch_size=32)
    0.032
    """
    return float(learning_rate) * int(batch_size)


def authors_weight_decay(weight_decay: float, batch_size: int) -> float:
    """The coupled L2 coefficient for a batch-mean loss that reproduces the authors' decay.

    Args:
        weight_decay: the authors' coefficient (added to the summed-loss gradient).
        batch_size: examples per batch.

    Example:

    >>> authors_weight_decay(5e-4, batch_size=2)
    0.00025
    """
    return float(weight_decay) / int(batch_size)


def log_spaced_schedule(start: float, end: float, epochs: int, steps_per_epoch: int):
    """Learning rate log-spaced from `start` (first epoch) to `end` (last epoch), one value per epoch.

    This is MATLAB's ``logspace(log10(start), log10(end), epochs)`` as the authors use it,
    applied per step with a staircase.

    Args:
        start: learning rate of the first epoch (> 0).
        end: learning rate of the last epoch (0 < end <= start).
        epochs: number of epochs (>= 1).
        steps_per_epoch: optimizer steps per epoch (>= 1).

    Returns:
        A `keras.optimizers.schedules.ExponentialDecay` (or a float when `epochs` is 1).

    Example:

    >>> schedule = log_spaced_schedule(1e-4, 1e-5, epochs=3, steps_per_epoch=10)
    >>> [round(float(schedule(step)), 8) for step in (0, 9, 10, 29)]
    [0.0001, 0.0001, 3.162e-05, 1e-05]
    """
    import keras

    if not (start > 0 and 0 < end <= start):
        raise ValueError(f"Need 0 < end <= start; received start={start!r}, end={end!r}.")
    if epochs < 1 or steps_per_epoch < 1:
        raise ValueError(
            f"epochs and steps_per_epoch must be >= 1; received {epochs!r}, {steps_per_epoch!r}."
        )
    if epochs == 1 or start == end:
        return float(start)
    rate = math.exp(math.log(end / start) / (epochs - 1))
    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=start, decay_steps=steps_per_epoch, decay_rate=rate, staircase=True
    )


def learning_rate_schedule(learning_rates, epochs_per_rate: int, total_epochs: int | None = None):
    """The authors' step schedule for the teacher, as a function epoch (0-based) -> learning rate.

    Each rate holds for `epochs_per_rate` epochs (the last one holds after that). With
    `total_epochs`, the rates share `total_epochs` equally instead.

    Args:
        learning_rates: the rates, in order.
        epochs_per_rate: epochs each rate holds (>= 1).
        total_epochs: optional total (>= 1) the rates share equally instead.

    Returns:
        ``schedule(epoch, lr=None) -> float``, as `keras.callbacks.LearningRateScheduler` calls it.

    Example:

    >>> schedule = learning_rate_schedule((1e-2, 1e-3, 1e-4), 60)
    >>> [schedule(e) for e in (0, 59, 60, 179, 200)]
    [0.01, 0.01, 0.001, 0.0001, 0.0001]
    """
    rates = tuple(float(r) for r in learning_rates)
    if not rates:
        raise ValueError("learning_rates must hold at least one rate; received none.")
    check_positive_int(epochs_per_rate, "epochs_per_rate")
    if total_epochs is not None:
        check_positive_int(total_epochs, "total_epochs")

    def schedule(epoch, lr=None):
        if total_epochs:
            stage = epoch * len(rates) // total_epochs
        else:
            stage = epoch // epochs_per_rate
        return rates[min(int(stage), len(rates) - 1)]

    return schedule


def attach_weight_decay(model, weight_decay: float) -> int:
    """Adds the authors' weight decay to every conv and dense kernel as an L2 penalty.

    MatConvNet adds `weight_decay * w` to the gradient before the momentum update, which is
    the gradient of `(weight_decay / 2) * ||w||^2`: each kernel gets
    `keras.regularizers.L2(weight_decay / 2)`. (Keras' `SGD(weight_decay=...)` is decoupled
    decay, applied outside the momentum, so it is not used.) Batch-norm scales and offsets and
    biases are not decayed. The penalty lives on the variables only: it is not part of the
    saved model's configuration.

    Args:
        model: a built Keras model (nested models are searched too).
        weight_decay: the authors' coefficient; 0 or less attaches nothing.

    Returns:
        The number of kernels regularised.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> attach_weight_decay(model, 5e-4)
    1
    """
    import keras

    if weight_decay <= 0:
        return 0
    regularizer = keras.regularizers.L2(weight_decay / 2.0)

    def layers_of(container):
        for layer in container.layers:
            if isinstance(layer, keras.Model):
                yield from layers_of(layer)
            else:
                yield layer

    count = 0
    for layer in layers_of(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.regularizer = regularizer
            count += 1
    return count
