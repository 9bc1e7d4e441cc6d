"""The one owner of a trained student's window: the crop length it was trained on.

The fixed window of the TFLite models, the window written in the model card and the default
timeline window of `kerasemo.inference` all come from `model_window`, which reads, in order:

1. the student's own configuration: a `VGGMStudent` built with ``input_frames=N`` (a fixed
   time axis) was made for N-frame crops;
2. the training run's resolved configuration (``config.toml`` beside ``student.keras``, as the
   distill stage saves it): ``frontend.crop_frames``;
3. otherwise the paper's crop, 400 frames = 64,384 samples = 4.024 s (`WINDOW_SAMPLES`).

A crop of ``F`` frames is ``160 * F + 384`` samples, the authors' rule
(`kerasemo.audio.reference.crop_samples_for_frames`), which framing without padding turns back
into exactly ``F`` frames.

Example:

>>> crop_samples_for_frames(400), crop_samples_for_frames(300)
(64384, 48384)
>>> model_window(None, {"frontend": {"crop_frames": 300}})
ModelWindow(samples=48384, frames=300, source='run config frontend.crop_frames')
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import tomllib
from collections.abc import Mapping
from typing import Any

from kerasemo.audio.reference import (
    CROP_SAMPLES,
    SAMPLE_RATE,
    crop_samples_for_frames,
    num_frames,
)
from kerasemo.checks import check_positive_int
from kerasemo.vggm import MIN_INPUT_FRAMES

logger = logging.getLogger(__name__)

RUN_CONFIG_FILE = "config.toml"
"""The resolved experiment configuration the distill stage writes beside ``student.keras``."""
PAPER_SOURCE = "paper default (400-frame crop)"


@dataclasses.dataclass(frozen=True)
class ModelWindow:
    """A student's window.

    Attributes:
        samples: the window in 16 kHz samples.
        frames: the spectrogram frames it gives.
        source: where the length was read (the student, the run's config, or the paper).
    """

    samples: int
    frames: int
    source: str

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE


def read_run_config(run_dir: str | os.PathLike | None) -> dict | None:
    """The run's resolved configuration (``config.toml`` in `run_dir`), or None if absent."""
    if run_dir is None:
        return None
    path = pathlib.Path(run_dir) / RUN_CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        logger.warning("Ignoring %s: %s", path, err)
        return None


def model_window(student: Any, run_config: Mapping[str, Any] | None = None) -> ModelWindow:
    """The window `student` was trained on (see the module docstring for the order).

    Args:
        student: a `VGGMStudent` (or None when only the run's configuration is known).
        run_config: the run's resolved configuration as a dict (`read_run_config`), or None.

    Returns:
        A `ModelWindow`.

    Raises:
        ValueError: if the crop length found is shorter than the student can pool
            (`MIN_INPUT_FRAMES` = 63 frames).
    """
    frames = getattr(student, "input_frames", None)
    source = "student input_frames"
    if frames is None and run_config:
        frames = (run_config.get("frontend") or {}).get("crop_frames")
        source = "run config frontend.crop_frames"
    if frames is None:
        return ModelWindow(CROP_SAMPLES, num_frames(CROP_SAMPLES), PAPER_SOURCE)
    frames = check_positive_int(frames, "crop_frames")
    if frames < MIN_INPUT_FRAMES:
        raise ValueError(
            f"The {source} says {frames} frames per crop; the student needs at least "
            f"{MIN_INPUT_FRAMES}. Check the run's configuration."
        )
    return ModelWindow(crop_samples_for_frames(frames), frames, source)
