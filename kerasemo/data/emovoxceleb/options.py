"""`BuildOptions`: how an EmoVoxCeleb build runs, and the choices its options accept."""

from __future__ import annotations

import dataclasses

from kerasemo.audio import reference
from kerasemo.checks import (
    check_bool,
    check_choice,
    check_non_negative_int,
    check_non_negative_number,
    check_positive_int,
    check_positive_number,
)
from kerasemo.data import frames as frames_lib

AUDIO_KINDS = ("spectrogram", "waveform")
"""How a track's audio is stored: the recipe's 257-bin magnitudes or int16 samples."""
VIDEO_CROPS = ("auto", "box", "whole")
"""How a decoded video frame becomes a face crop (see `BuildOptions.video_crop`)."""
SPLIT_SOURCES = ("seeded", "file")
"""Where the splits come from: `kerasemo.data.splits` or the logits file's own sets."""
SAMPLE_RATE = reference.SAMPLE_RATE
"""Sample rate (Hz) of the stored audio."""


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """How to build; everything that changes the shards' content is checked on resume.

    Args:
        audio: ``"spectrogram"`` (257-bin float16 magnitudes, the default) or ``"waveform"``
            (int16 samples).
        shard_mb: target shard size in megabytes (10**6 bytes), estimated before writing.
        num_parts: split the planned shard files into this many disjoint parts.
        part_index: the part this process builds (0-based, < `num_parts`).
        context_margin: context added on every side of a face box, as a fraction of the box's
            longer side (0.0: the box itself, squared, as the authors feed their teacher).
        border: ``"pad"`` (zeros outside the image) or ``"clamp"`` (window moved inside).
        video_crop: ``"box"`` (crop every decoded frame with its txt box), ``"whole"`` (the
            frame is already a face crop) or ``"auto"`` (whole for 224x224 frames of VoxCeleb2
            clips, which ship as face crops; box otherwise).
        jpeg_center_crop: centred fraction of each extracted JPEG kept (1.0 = as it is; the
            authors centre-crop ``1 / 1.6`` of their 1.6x-context JPEGs).
        batch_size: face crops per teacher batch (batches never span two shards).
        workers: decoding threads (0: everything in the calling thread, no writer thread).
        prefetch: tracks decoded ahead of the teacher.
        split_source: ``"seeded"`` (`kerasemo.data.splits`) or ``"file"`` (the logits file's
            sets).
        progress: show a tqdm progress bar (tracks/s).
        finalize: finalise (manifest, exports, figures) when every planned shard exists.

    Raises:
        ValueError: for an option outside its range (the message names it and what was
            received).

    Example:

    >>> BuildOptions(shard_mb=16, workers=4).num_parts
    1
    >>> BuildOptions(part_index=2, num_parts=2)
    Traceback (most recent call last):
    ...
    ValueError: part_index must be in [0, num_parts=2); received 2.
    """

    audio: str = "spectrogram"
    shard_mb: float = 64.0
    num_parts: int = 1
    part_index: int = 0
    context_margin: float = 0.0
    border: str = "pad"
    video_crop: str = "auto"
    jpeg_center_crop: float = 1.0
    batch_size: int = 64
    workers: int = 2
    prefetch: int = 16
    split_source: str = "seeded"
    progress: bool = True
    finalize: bool = True

    def __post_init__(self):
        check_choice(self.audio, "audio", AUDIO_KINDS)
        check_positive_number(self.shard_mb, "shard_mb")
        check_positive_int(self.num_parts, "num_parts")
        check_non_negative_int(self.part_index, "part_index")
        if self.part_index >= self.num_parts:
            raise ValueError(
                f"part_index must be in [0, num_parts={self.num_parts}); "
                f"received {self.part_index!r}."
            )
        check_non_negative_number(self.context_margin, "context_margin")
        check_choice(self.border, "border", frames_lib.BORDERS)
        check_choice(self.video_crop, "video_crop", VIDEO_CROPS)
        if not 0 < self.jpeg_center_crop <= 1:
            raise ValueError(
                f"jpeg_center_crop must be in (0, 1]; received {self.jpeg_center_crop!r}."
            )
        check_positive_int(self.batch_size, "batch_size")
        check_non_negative_int(self.workers, "workers")
        check_positive_int(self.prefetch, "prefetch")
        check_choice(self.split_source, "split_source", SPLIT_SOURCES)
        check_bool(self.progress, "progress")
        check_bool(self.finalize, "finalize")
