"""Random EmoVoxCeleb-style shards and the training input pipeline's speed on them.

The ``distill`` and ``scale`` sections time the tf.data training pipeline and the distillation
loop on shards of random 8 s tracks (spectrogram storage, VoxCeleb's typical length): what they
measure does not depend on the values, only on the shapes and sizes.

Example:

>>> from kerasemo.benchmarks.random_shards import pipeline_crops_per_second, write_random_shards
>>> write_random_shards("runs/random-shards", num_tracks=16)  # doctest: +SKIP
>>> pipeline_crops_per_second("runs/random-shards", batch_size=8, batches=2)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from kerasemo.benchmarks.harness import time_call
from kerasemo.checks import check_non_negative_int, check_positive_int

TRACK_FRAMES = 800
"""Spectrogram frames of a typical track: 8 s, VoxCeleb's typical length."""
MIN_VALIDATION_TRACKS = 48
"""Tracks of each validation split at least: more than one length-bucketed validation batch (32
tracks), so that validation memory is at its steady state as in any real corpus."""


def write_random_shards(
    folder: str | os.PathLike, num_tracks: int, tracks_per_shard: int = 16, seed: int = 0
) -> None:
    """Writes `num_tracks` random training tracks and the validation splits as TFRecord shards.

    Track lengths are uniform in 4-12 s (400-1,200 frames of 257 bins); each track has one
    teacher logit row per 24 frames (0.24 s). Each validation split gets
    ``max(MIN_VALIDATION_TRACKS, num_tracks // 8)`` tracks.

    Args:
        folder: where the shards go (created).
        num_tracks: training tracks (>= 1).
        tracks_per_shard: tracks per shard file (>= 1).
        seed: the random generator's seed (>= 0).

    Example:

    >>> write_random_shards("runs/random-shards", num_tracks=64)  # doctest: +SKIP
    """
    import tensorflow as tf

    from kerasemo.data import schema

    check_positive_int(num_tracks, "num_tracks")
    check_positive_int(tracks_per_shard, "tracks_per_shard")
    rng = np.random.default_rng(check_non_negative_int(seed, "seed"))
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    validation = max(MIN_VALIDATION_TRACKS, num_tracks // 8)
    splits = {"train": num_tracks, "heard_val": validation, "unheard_val": validation}
    for split, count in splits.items():
        shards = max(1, count // tracks_per_shard)
        for shard in range(shards):
            path = folder / f"{split}-{shard:05d}-of-{shards:05d}.tfrecord"
            with tf.io.TFRecordWriter(str(path)) as writer:
                for i in range(shard, count, shards):
                    frames = int(rng.integers(TRACK_FRAMES // 2, TRACK_FRAMES * 3 // 2))
                    logits = rng.standard_normal((frames // 24 + 1, 8)).astype(np.float32) * 2
                    example = schema.make_example(
                        identity=f"id{i % 50:05d}",
                        video="video",
                        track=f"{i:05d}",
                        split=split,
                        frame_logits=logits,
                        frame_times=np.arange(len(logits)) * 0.24,
                        num_samples=frames * 160 + 240,
                        spectrogram=rng.gamma(2.0, 2e4, size=(frames, 257)).astype(np.float32),
                    )
                    writer.write(example.SerializeToString())


def pipeline_crops_per_second(folder: str | os.PathLike, batch_size: int, batches: int) -> float:
    """Crops/s of `kerasemo.data.pipeline.training_dataset` alone on the ``train`` shards.

    Parse, random 4 s crop, pooled target, shuffle and batch, with no model; the median of 3
    timed runs of `batches` batches each, after 3 warm-up batches (prefetch buffers filled, the
    map function traced).

    Args:
        folder: a folder of shards (`write_random_shards`).
        batch_size: crops per batch (>= 1).
        batches: batches per timed run (>= 1).

    Returns:
        Crops per second.

    Example:

    >>> pipeline_crops_per_second("runs/random-shards", 32, batches=8)  # doctest: +SKIP
    """
    from kerasemo.data import pipeline

    check_positive_int(batches, "batches")
    files = pipeline.shard_files(folder, "train")
    iterator = iter(pipeline.training_dataset(files, batch_size=batch_size, repeat=True))
    for _ in range(3):
        next(iterator)

    def consume():
        for _ in range(batches):
            next(iterator)

    return batches * batch_size / time_call(consume, repeats=3, warmup=0)
