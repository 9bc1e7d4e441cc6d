"""Keras callbacks of the training stages."""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib

import keras

logger = logging.getLogger(__name__)


class SaveBestStudent(keras.callbacks.Callback):
    """Saves ``model.student`` as ``.keras`` whenever the monitored validation value improves.

    The best value and its epoch are also written beside the model (``<path>.json``) and read
    back at the start of training, so a run resumed after an interruption keeps the better model.

    Args:
        path: where to write the student (``.keras``).
        monitor: the log key to minimise (e.g. ``"val_loss"``).

    Attributes:
        best: the best value seen so far; ``best_epoch``: its 0-based epoch.

    Example:

    >>> callback = SaveBestStudent("runs/distill/student.keras")
    >>> callback.record_path.name
    'student.keras.json'
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss"):
        super().__init__()
        self.path = pathlib.Path(path)
        self.monitor = monitor
        self.best = math.inf
        self.best_epoch = None

    @property
    def record_path(self) -> pathlib.Path:
        """The JSON record of the best value, beside the model."""
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
