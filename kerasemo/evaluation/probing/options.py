"""Settings of one probe run (`ProbeOptions`), validated once, built from flags or a config.

Example:

>>> options = ProbeOptions(out_dir="runs/probe-rml", protocol="speaker", folds=5)
>>> options.protocol, options.folds, options.cache_dir.as_posix()
(('speaker',), 5, 'runs/cache')
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kerasemo.checks import (
    check_bool,
    check_choice,
    check_fraction,
    check_non_negative_int,
    check_positive_int,
)
from kerasemo.evaluation.probing.cache import DEFAULT_CACHE_DIR
from kerasemo.evaluation.probing.folds import PROTOCOLS, normalise_protocols
from kerasemo.evaluation.probing.teacher_features import FACE_CROPS

if TYPE_CHECKING:
    from kerasemo.config import ExperimentConfig

POOLINGS: tuple[str, ...] = ("max", "mean")


def _optional_path(value) -> pathlib.Path | None:
    return None if value is None else pathlib.Path(os.fspath(value))


@dataclasses.dataclass(frozen=True)
class ProbeOptions:
    """Everything `run_probe` does besides the dataset and the models.

    Args:
        out_dir: where ``results.md``, ``results.json``, ``predictions.csv`` and
            ``confusion.png`` (and ``config.toml`` when `experiment` is given) are written.
        protocol: ``"random10"``, ``"speaker"``, ``"both"`` (default) or a sequence; stored as
            a tuple, the first is the primary one, drawn in ``confusion.png``.
        folds: folds per protocol (10; the speaker protocol uses at most one per speaker).
        seed: seed of the random folds (0, as the authors) and of the random forest.
        cache_dir: feature cache folder, or None for no cache (default ``runs/cache``).
        acoustic: run the eGeMAPS + random-forest baseline (needs ``opensmile``).
        frame_stride, pooling, max_video_frames, face_crop: teacher frame sampling and pooling
            (`sample_video_frames`, `compute_teacher_features`).
        forest_trees: trees of the random forest.
        batch_frames, max_pad_fraction: student batching (`compute_student_embeddings`).
        ravdess_calm, include_song: RAVDESS reader options (`read_dataset`, which checks them).
        head_dir: if set, a `LinearProbe` fitted on all clips' student logits is saved there
            (`save_probe_head`).
        experiment: optional `kerasemo.config.ExperimentConfig`, saved as ``config.toml``.
        progress: show progress bars.

    Raises:
        ValueError: for an out-of-range or wrongly typed setting (the message names it).

    Example:

    >>> ProbeOptions(out_dir="out", folds=0)
    Traceback (most recent call last):
    ...
    ValueError: `folds` must be a positive integer. Received: folds=0 (type int).
    """

    out_dir: pathlib.Path
    protocol: tuple[str, ...] = PROTOCOLS
    folds: int = 10
    seed: int = 0
    cache_dir: pathlib.Path | None = DEFAULT_CACHE_DIR
    acoustic: bool = True
    frame_stride: int = 6
    pooling: str = "max"
    max_video_frames: int = 48
    face_crop: str = "center"
    forest_trees: int = 300
    batch_frames: int = 4000
    max_pad_fraction: float = 0.0
    ravdess_calm: str = "drop"
    include_song: bool = False
    head_dir: pathlib.Path | None = None
    experiment: ExperimentConfig | None = None
    progress: bool = True

    def __post_init__(self):
        def store(name, value):
            object.__setattr__(self, name, value)

        if self.out_dir is None:
            raise ValueError("ProbeOptions needs `out_dir`, the folder the results are written to.")
        store("out_dir", pathlib.Path(os.fspath(self.out_dir)))
        store("cache_dir", _optional_path(self.cache_dir))
        store("head_dir", _optional_path(self.head_dir))
        store("protocol", normalise_protocols(self.protocol))
        for name in ("folds", "frame_stride", "max_video_frames", "forest_trees", "batch_frames"):
            check_positive_int(getattr(self, name), name)
        check_non_negative_int(self.seed, "seed")
        for name in ("acoustic", "include_song", "progress"):
            check_bool(getattr(self, name), name)
        check_choice(self.pooling, "pooling", POOLINGS)
        check_choice(self.face_crop, "face_crop", FACE_CROPS)
        store("max_pad_fraction", check_fraction(self.max_pad_fraction, "max_pad_fraction"))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names (the keywords `run_probe` accepts).

        Example:

        >>> "pooling" in ProbeOptions.field_names()
        True
        """
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def from_config(
        cls, experiment, *, out_dir, protocol: str | Sequence[str] = "both", **overrides
    ) -> ProbeOptions:
        """Options from an `ExperimentConfig`: its folds, seed, primary protocol and frames.

        ``evaluation.probe_folds`` / ``probe_seed`` give `folds` / `seed`; with
        ``protocol="both"``, ``evaluation.probe_protocol`` comes first (the primary one);
        ``frames.frame_stride`` / ``frames.pooling`` give the teacher's frame sampling; the
        experiment itself is saved beside the results.

        Args:
            experiment: a `kerasemo.config.ExperimentConfig`.
            out_dir: the output folder.
            protocol: as in `ProbeOptions`; ``"both"`` puts the config's protocol first.
            **overrides: any other `ProbeOptions` field.

        Example:

        >>> from kerasemo.config import ExperimentConfig
        >>> options = ProbeOptions.from_config(ExperimentConfig(), out_dir="out")
        >>> options.protocol, options.folds, options.frame_stride
        (('random10', 'speaker'), 10, 6)
        """
        evaluation = experiment.evaluation
        if protocol == "both":
            primary = evaluation.probe_protocol
            protocol = (primary,) + tuple(p for p in PROTOCOLS if p != primary)
        settings = {
            "folds": evaluation.probe_folds,
            "seed": evaluation.probe_seed,
            "frame_stride": experiment.frames.frame_stride,
            "pooling": experiment.frames.pooling,
            "experiment": experiment,
            **overrides,
        }
        return cls(out_dir=out_dir, protocol=protocol, **settings)

    def replace(self, **changes) -> ProbeOptions:
        """A copy with some options changed (validated again).

        Raises:
            TypeError: for a name that is not an option (the message lists them).

        Example:

        >>> ProbeOptions(out_dir="out").replace(folds=4).folds
        4
        """
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise TypeError(
                f"Unknown probe option(s) {unknown}; expected names from {list(self.field_names())}."
            )
        return dataclasses.replace(self, **changes)
