"""Training utilities shared by the stages: precision, the authors' SGD settings, callbacks.

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

import json
import logging
import math
import os
import pathlib

import keras

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def authors_learning_rate(learning_rate: float, batch_size: int) -> float:
    """The learning rate for a batch-mean loss that reproduces the authors' summed-loss step."""
    return float(learning_rate) * int(batch_size)


def authors_weight_decay(weight_decay: float, batch_size: int) -> float:
    """The coupled L2 coefficient for a batch-mean loss that reproduces the authors' decay."""
    return float(weight_decay) / int(batch_size)


def enable_determinism(seed: int) -> None:
    """Seeds every generator and makes TensorFlow's ops deterministic, for reproducible runs.

    Calls `keras.utils.set_random_seed` and, on the TensorFlow backend,
    `tf.config.experimental.enable_op_determinism` (process-wide and permanent: kernels that
    have no deterministic implementation then raise instead of running). Input pipelines must
    also keep their order (``deterministic=True`` in `kerasemo.data.pipeline`). On x86 CPUs,
    oneDNN's threaded convolutions are not bitwise repeatable at every size even so: set
    ``TF_ENABLE_ONEDNN_OPTS=0`` before TensorFlow is imported for bit-identical runs.

    Args:
        seed: the run's seed.
    """
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def accelerator_available() -> bool:
    """True when the Keras backend sees a GPU or TPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))
    if backend == "jax":
        import jax

        return any(d.platform != "cpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def resolve_precision(precision: str) -> str:
    """Maps ``auto`` to ``mixed_float16`` on an accelerator and ``float32`` on CPU.

    Raises:
        ValueError: for a name outside `PRECISIONS`.

    Example:

    >>> resolve_precision("float32")
    'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; received {precision!r}.")
    if precision != "auto":
        return precision
    return "mixed_float16" if accelerator_available() else "float32"


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


class SaveBestStudent(keras.callbacks.Callback):
    """Saves ``model.student`` as ``.keras`` whenever the monitored validation value improves.

    Args:
        path: where to write the student (``.keras``).
        monitor: the log key to minimise (e.g. ``"val_loss"``).

    The best value and its epoch are also written beside the model (``<path>.json``) and read
    back at the start of training, so a run resumed after an interruption keeps the better model.

    Attributes:
        best: the best value seen so far; ``best_epoch``: its 0-based epoch.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss"):
        super().__init__()
        self.path = pathlib.Path(path)
        self.monitor = monitor
        self.best = math.inf
        self.best_epoch = None

    @property
    def record_path(self) -> pathlib.Path:
        return self.path.with_name(self.path.name + ".json")

    def on_train_begin(self, logs=None):
        if self.path.exists() and self.record_path.exists():
            record = json.loads(self.record_path.read_text())
            if record.get("monitor") == self.monitor:
                self.best, self.best_epoch = float(record["best"]), record["epoch"]
                logger.info("resuming: best %s so far %.5f (epoch %d)", self.monitor, self.best, self.best_epoch + 1)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(
                f"SaveBestStudent monitors {self.monitor!r}, which is not among the logged values "
                f"{sorted(logs or {})}; pass validation data or change `monitor`."
            )
        if value < self.best:
            self.best, self.best_epoch = float(value), epoch
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.stem + ".tmp.keras")
            self.model.student.save(tmp)
            os.replace(tmp, self.path)
            self.record_path.write_text(
                json.dumps({"monitor": self.monitor, "best": self.best, "epoch": epoch})
            )
            logger.info("epoch %d: %s improved to %.5f, saved %s", epoch + 1, self.monitor, value, self.path)
