"""The EmoVoxCeleb build as one library call from an experiment configuration.

`build_from_config` does what ``python -m kerasemo.experiments.build_emovoxceleb`` does after
parsing its flags: it loads the labeller (a face teacher, or the authors' released frame logits),
scans the talking-face tracks and writes the shards (`kerasemo.data.emovoxceleb.build`). Rerunning
it resumes: finished shard files are kept.

Example:

```python
from kerasemo.config import load_config
from kerasemo.data.build_stage import build_from_config

result = build_from_config(load_config("demo"), "data/synthetic", "tfrecords/demo",
                           layout="voxceleb1", teacher="runs/teacher/teacher.keras")
result.finalized
```
"""

from __future__ import annotations

import os
import pathlib

from kerasemo import config as config_lib

LAYOUTS = ("voxceleb1", "voxceleb2", "frames")


def file_labeller(logits: str | os.PathLike):
    """The `kerasemo.data.emovoxceleb.FileLabeller` of a released frame-logits file.

    Args:
        logits: the authors' ``.mat`` (``wavLogits`` + ``images.name``) or this tool's
            ``frame_logits.mat``.

    Raises:
        FileNotFoundError: for a missing file.
        kerasemo.data.emovox_logits.LogitsFileError: for a file that cannot be read.

    Example:

    >>> labeller = file_labeller("senet50-ferplus-logits.mat")  # doctest: +SKIP
    """
    from kerasemo.data import emovoxceleb
    from kerasemo.data.emovox_logits import load_emovox_logits

    return emovoxceleb.FileLabeller(load_emovox_logits(logits), fingerprint=emovoxceleb.file_sha256(logits))


def scan_tracks(experiment: config_lib.ExperimentConfig, root: str | os.PathLike, layout: str):
    """``(tracks, report)`` of a corpus folder, with the configured frame sampling.

    Args:
        experiment: the configuration (``frames.frame_stride``, ``frames.video_fps``).
        root: the corpus folder.
        layout: one of `LAYOUTS` (`kerasemo.data.voxceleb.scan`).

    Example:

    >>> tracks, report = scan_tracks(load_config("demo"), "data/synthetic", "voxceleb1")  # doctest: +SKIP
    """
    from kerasemo.data import voxceleb

    return voxceleb.scan(
        root, layout, frame_stride=experiment.frames.frame_stride, video_fps=experiment.frames.video_fps
    )


def _check_sources(root: pathlib.Path, layout: str, teacher, logits, options) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; received {layout!r}.")
    if (teacher is None) == (logits is None):
        raise ValueError(
            "give exactly one of teacher (a face teacher file) and logits (released frame "
            f"logits); received teacher={teacher!r}, logits={logits!r}."
        )
    if options.split_source == "file" and logits is None:
        raise ValueError("split_source='file' (--splits file) needs logits: the file's own sets.")
    if not root.is_dir():
        raise FileNotFoundError(f"root '{root}' does not exist or is not a folder.")


def build_from_config(
    experiment: config_lib.ExperimentConfig,
    root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    layout: str,
    teacher: str | os.PathLike | None = None,
    logits: str | os.PathLike | None = None,
    options=None,
):
    """Labels the tracks under `root` and writes EmoVoxCeleb-style shards into `out`.

    Args:
        experiment: the resolved configuration (frames, splits, teacher, seed).
        root: the corpus folder.
        out: the output folder (rerun to resume; finished shard files are kept).
        layout: ``voxceleb1``, ``voxceleb2`` or ``frames`` (`LAYOUTS`).
        teacher: a face teacher (``.keras``, or ``.weights.h5`` for ``experiment.teacher``).
        logits: instead of `teacher`, the authors' released frame-level logits.
        options: a `kerasemo.data.emovoxceleb.BuildOptions` (default: its defaults); its
            ``batch_size`` is also the teacher's batch.

    Returns:
        The `kerasemo.data.emovoxceleb.BuildResult`.

    Raises:
        ValueError: for an unknown layout, both or neither of `teacher` and `logits`, file
            splits without `logits`, no usable tracks, or a teacher file that does not fit.
        FileNotFoundError: for a missing `root`, teacher or logits file.
        kerasemo.data.emovoxceleb.PlanMismatchError: when `out` holds a build planned
            differently.

    Example:

    >>> result = build_from_config(experiment, "data/voxceleb1", "tfrecords/emovoxceleb",
    ...                            layout="voxceleb1", teacher="teacher.keras")  # doctest: +SKIP
    """
    from kerasemo.data import emovoxceleb

    options = options or emovoxceleb.BuildOptions()
    root = pathlib.Path(root)
    _check_sources(root, layout, teacher, logits, options)
    if logits is not None:
        labeller = file_labeller(logits)
    else:
        labeller = emovoxceleb.load_teacher_labeller(teacher, experiment, batch_size=options.batch_size)
    tracks, report = scan_tracks(experiment, root, layout)
    return emovoxceleb.build(tracks, report, out, labeller=labeller, config=experiment, options=options)
