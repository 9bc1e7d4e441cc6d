"""tf.data input pipelines for distillation: random 4 s crops with their pooled teacher targets.

Training (`training_dataset`): the shard files of a split are shuffled and read in parallel
(interleave); for every track one random crop of `crop_frames` spectrogram frames (400 = 4 s, the
authors' 64,384 samples) is taken, zero-padded when the track is shorter; the target is the
teacher's frame logits inside the crop's time window pooled by max (default) or mean; examples
are shuffled, batched and prefetched. Crops are drawn from a seeded random stream that changes
every epoch (``rerandomize_each_iteration``), so a run is reproducible and every epoch sees new
crops. The pipeline yields the 257 stored rfft bins, unnormalised: mirroring to 512 bins and the
per-frequency normalisation of each crop run inside the model (on the accelerator).

Which teacher frames belong to a crop follows the authors' code (``getBatchEmoVoxCeleb.m``): a
crop starting at 0-based sample ``s`` spans ``t0 = (s + 1) / 16000`` to
``t1 = (s + L) / 16000`` seconds (``L`` = crop samples) and takes the labelled frames with 1-based
indices ``frame_index(t0) .. min(frame_index(t1), F)``, where
``frame_index(t) = floor(max(fps * t - 1, 0) / stride) + 1`` (25 fps, every 6th frame).

Validation (`validation_dataset`): whole tracks (at least `MIN_INPUT_FRAMES` frames, padded if
shorter), targets pooled over all labelled frames, one track per batch (or, optionally, batched
by length buckets with zero padding).

Example:

```python
from kerasemo.data import pipeline

files = pipeline.shard_files("tfrecords/demo", "train")
train = pipeline.training_dataset(files, batch_size=64, seed=0)
val = pipeline.validation_dataset(pipeline.shard_files("tfrecords/demo", "unheard_val"))
```
"""

from __future__ import annotations

import logging
import math
import os
import pathlib

import tensorflow as tf

from kerasemo.audio.reference import (
    CROP_FRAMES,
    FRAME_LENGTH,
    FRAME_STEP,
    SAMPLE_RATE,
    crop_samples_for_frames,
)
from kerasemo.data import schema
from kerasemo.data.frames import FRAME_STRIDE, VIDEO_FPS
from kerasemo.emotions import NUM_CLASSES
from kerasemo.vggm import MIN_INPUT_FRAMES

logger = logging.getLogger(__name__)

POOLINGS = ("max", "mean")


def shard_files(data_dir: str | os.PathLike, split: str) -> list[str]:
    """Sorted shard files of one split (``<split>-00000-of-00004.tfrecord``...).

    Raises:
        FileNotFoundError: naming the folder and what it holds, when there are none.
    """
    if split not in schema.SPLITS:
        raise ValueError(f"split must be one of {schema.SPLITS}; received {split!r}.")
    folder = pathlib.Path(data_dir)
    files = sorted(str(p) for p in folder.glob(f"{split}-*-of-*.tfrecord"))
    if not files:
        present = sorted(p.name for p in folder.glob("*.tfrecord"))[:5] if folder.is_dir() else []
        raise FileNotFoundError(
            f"No {split} shards (`{split}-*-of-*.tfrecord`) in {str(folder)!r}"
            + (f"; it holds {present}" if present else "; the folder is empty or missing")
            + ". Build them with `python -m kerasemo.experiments.build_emovoxceleb`."
        )
    return files


def count_examples(files: list[str]) -> int:
    """Number of records in the files (reads them once; use a manifest for large corpora)."""
    return int(tf.data.TFRecordDataset(files).reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def frame_index(seconds, fps: float = VIDEO_FPS, stride: int = FRAME_STRIDE):
    """The authors' 1-based index of the labelled frame covering time `seconds` (tensor-friendly).

    The graph twin of `kerasemo.data.frames.frame_index_for_time` (which the builder and the
    shards' frame times follow): the same formula, with ``fps * t - 1`` rounded to 6 decimals so
    that a time on a frame boundary lands on the same frame in both. A test pins the two
    together; it exists because tf.data maps run as graphs, where the NumPy one cannot.

    Example:

    >>> [int(frame_index(t)) for t in (0.0, 0.2, 0.28, 0.3, 1.0)]
    [1, 1, 2, 2, 5]
    """
    seconds = tf.convert_to_tensor(seconds, tf.float64)
    video_frame = tf.round((fps * seconds - 1.0) * 1e6) / 1e6
    return tf.cast(tf.floor(tf.maximum(video_frame, 0.0) / stride), tf.int32) + 1


def pool_crop_logits(
    logits, start_sample, crop_samples, pooling="max", fps=VIDEO_FPS, stride=FRAME_STRIDE
):
    """Pools the frame logits that fall in a crop window, the authors' way (module docstring).

    Args:
        logits: float ``[F, classes]`` frame logits of the track (F >= 1).
        start_sample: 0-based first sample of the crop.
        crop_samples: crop length in samples.
        pooling: ``"max"`` or ``"mean"``.
        fps: video frame rate.
        stride: one labelled frame every `stride` video frames.

    Returns:
        float32 ``[classes]``.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    count = tf.shape(logits)[0]
    start = tf.cast(start_sample, tf.float64)
    first = frame_index((start + 1.0) / SAMPLE_RATE, fps, stride)
    last = tf.minimum(frame_index((start + tf.cast(crop_samples, tf.float64)) / SAMPLE_RATE, fps, stride), count)
    first = tf.clip_by_value(first, 1, last)
    window = logits[first - 1 : last]
    if pooling == "max":
        return tf.reduce_max(window, axis=0)
    if pooling == "mean":
        return tf.reduce_mean(window, axis=0)
    raise ValueError(f"pooling must be one of {POOLINGS}; received {pooling!r}.")


def _pool_all(logits, pooling):
    if pooling == "max":
        return tf.reduce_max(logits, axis=0)
    if pooling == "mean":
        return tf.reduce_mean(logits, axis=0)
    raise ValueError(f"pooling must be one of {POOLINGS}; received {pooling!r}.")


def _audio_kind(files: list[str]) -> str:
    for record in tf.data.TFRecordDataset(files[:1]).take(1):
        return schema.parse_example(record)["audio_kind"].numpy().decode()
    raise ValueError(f"{files[0]} holds no examples.")


def _waveform_to_spectrogram(waveform):
    """``[samples]`` -> ``[frames, 257]`` recipe magnitudes (the graph front-end, unnormalised)."""
    from kerasemo.audio import VGGVoxSpectrogram

    layer = VGGVoxSpectrogram(mirror=False, normalize=False)
    return tf.transpose(layer(waveform[tf.newaxis, :])[0])


def _read_records(files, *, shuffle_files, seed, deterministic, cycle_length):
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    return ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), cycle_length),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )


def warp_frequency(window, factor):
    """Stretches a ``[frames, bins]`` magnitude crop along frequency by `factor` (VTLP-style).

    Bin k of the result holds the (linearly interpolated) magnitude at bin k / factor of the
    input: factor > 1 moves harmonics and formants up, as a shorter vocal tract and a higher
    voice would; bins with no source (above the input's top when factor < 1) are 0.

    Args:
        window: float ``[frames, bins]``.
        factor: scalar > 0.

    Returns:
        float32 ``[frames, bins]``.
    """
    window = tf.convert_to_tensor(window, tf.float32)
    bins = tf.shape(window)[1]
    source = tf.range(bins, dtype=tf.float32) / tf.cast(factor, tf.float32)
    low = tf.floor(source)
    weight = source - low
    inside = tf.cast(source <= tf.cast(bins - 1, tf.float32), tf.float32)
    low = tf.cast(low, tf.int32)
    low = tf.minimum(low, bins - 1)
    high = tf.minimum(low + 1, bins - 1)
    below, above = tf.gather(window, low, axis=1), tf.gather(window, high, axis=1)
    return ((1.0 - weight) * below + weight * above) * inside


def _crop_fn(files, crop_frames, pooling, fps, frame_stride, seed, centred=False, frequency_warp=0.0):
    """``(serialized, random_value) -> (spectrogram [257, crop_frames], target [8])``.

    The crop starts at a seeded random frame (or, with `centred`, in the middle of the track);
    a track shorter than the crop is zero-padded at the end. With `frequency_warp` w > 0 the
    crop is stretched along frequency by a seeded factor drawn log-uniformly from
    [1 / (1 + w), 1 + w] (`warp_frequency`).
    """
    kind = _audio_kind(files)
    crop_samples = crop_samples_for_frames(crop_frames)

    def start_in(available, random_value):
        if centred:
            return tf.maximum(available - 1, 0) // 2
        seed_pair = tf.stack([random_value, tf.constant(seed, tf.int64)])
        return tf.random.stateless_uniform(
            [], seed_pair, minval=0, maxval=tf.maximum(available, 1), dtype=tf.int64
        )

    def crop(serialized, random_value):
        parsed = schema.parse_example(serialized)
        if kind == "spectrogram":
            spectrogram = parsed["spectrogram"]
            available = tf.shape(spectrogram, out_type=tf.int64)[0] - crop_frames + 1
            start_frame = start_in(available, random_value)
            window = spectrogram[start_frame : start_frame + crop_frames]
            start_sample = start_frame * FRAME_STEP
        else:
            waveform = parsed["waveform"]
            available = tf.shape(waveform, out_type=tf.int64)[0] - crop_samples + 1
            start_sample = start_in(available, random_value)
            samples = waveform[start_sample : start_sample + crop_samples]
            samples = tf.pad(samples, [[0, crop_samples - tf.shape(samples)[0]]])
            window = _waveform_to_spectrogram(samples)
        window = tf.pad(window, [[0, crop_frames - tf.shape(window)[0]], [0, 0]])
        if frequency_warp > 0:
            seed_pair = tf.stack([random_value, tf.constant(seed + 1, tf.int64)])
            log_factor = tf.random.stateless_uniform(
                [], seed_pair, minval=-math.log1p(frequency_warp), maxval=math.log1p(frequency_warp)
            )
            window = warp_frequency(window, tf.exp(log_factor))
        window = tf.ensure_shape(tf.transpose(window), (schema.NUM_STORED_BINS, crop_frames))
        target = pool_crop_logits(
            parsed["logits"], start_sample, crop_samples, pooling, fps, frame_stride
        )
        return window, tf.ensure_shape(target, (NUM_CLASSES,))

    return crop


def _check_crop_arguments(files, pooling, crop_frames, owner):
    if not files:
        raise ValueError(f"{owner} needs at least one shard file; received none.")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}; received {pooling!r}.")
    if crop_frames < MIN_INPUT_FRAMES:
        raise ValueError(f"crop_frames must be >= {MIN_INPUT_FRAMES}; received {crop_frames}.")


def training_dataset(
    files: list[str],
    *,
    batch_size: int = 64,
    crop_frames: int = CROP_FRAMES,
    pooling: str = "max",
    fps: float = VIDEO_FPS,
    frame_stride: int = FRAME_STRIDE,
    seed: int = 0,
    shuffle_buffer: int = 256,
    deterministic: bool = False,
    cycle_length: int = 8,
    repeat: bool = False,
    frequency_warp: float = 0.0,
) -> tf.data.Dataset:
    """Random crops with pooled teacher targets: ``(spectrogram [B, 257, crop_frames], logits [B, 8])``.

    Args:
        files: shard files (`shard_files`).
        batch_size: crops per batch (the last partial batch is dropped).
        crop_frames: spectrogram frames per crop (400 = 4 s).
        pooling: how frame logits inside a crop become its target: ``"max"`` or ``"mean"``.
        fps: video frame rate of the labelled tracks.
        frame_stride: one labelled frame every `frame_stride` video frames.
        seed: seed of file order, crop positions and example shuffling.
        shuffle_buffer: serialized examples held for shuffling (bounds memory).
        deterministic: make element order reproducible (slower parallel reads).
        cycle_length: shard files read in parallel.
        repeat: repeat forever (use with ``steps_per_epoch``).
        frequency_warp: w >= 0; stretch each crop along frequency by a random factor in
            [1 / (1 + w), 1 + w] (vocal-tract-length perturbation, `warp_frequency`), so the
            student cannot tell speakers apart by their pitch and formants alone. 0: off.

    Returns:
        A batched, prefetched `tf.data.Dataset`.

    Raises:
        ValueError: for an empty file list, a bad pooling or a crop shorter than the student's
            minimum input.
    """
    _check_crop_arguments(files, pooling, crop_frames, "training_dataset")
    if not 0.0 <= frequency_warp < 1.0:
        raise ValueError(f"frequency_warp must be in [0, 1); received {frequency_warp!r}.")
    crop = _crop_fn(files, crop_frames, pooling, fps, frame_stride, seed, frequency_warp=frequency_warp)

    records = _read_records(
        files, shuffle_files=True, seed=seed, deterministic=deterministic, cycle_length=cycle_length
    ).shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((records, randoms))
    if repeat:
        ds = ds.repeat()
    ds = ds.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def validation_crops(
    files: list[str],
    *,
    batch_size: int = 64,
    crop_frames: int = CROP_FRAMES,
    pooling: str = "max",
    fps: float = VIDEO_FPS,
    frame_stride: int = FRAME_STRIDE,
) -> tf.data.Dataset:
    """One fixed crop per track, in file order: ``(spectrogram [B, 257, crop_frames], logits [B, 8])``.

    The validation loss of distillation: the authors validate on crops of the training length
    (random ones; here the crop in the middle of each track, so the loss is the same every
    epoch and picks the kept model reproducibly). Every batch has the same shape, so one traced
    function evaluates them all; the last batch may be smaller.

    Args:
        files: shard files of the split.
        batch_size: crops per batch.
        crop_frames: spectrogram frames per crop, as in training.
        pooling: ``"max"`` or ``"mean"`` over the frame logits inside the crop.
        fps: video frame rate of the labelled tracks.
        frame_stride: one labelled frame every `frame_stride` video frames.

    Returns:
        A batched `tf.data.Dataset` (deterministic).
    """
    _check_crop_arguments(files, pooling, crop_frames, "validation_crops")
    crop = _crop_fn(files, crop_frames, pooling, fps, frame_stride, seed=0, centred=True)
    ds = tf.data.TFRecordDataset(files).map(
        lambda serialized: crop(serialized, tf.constant(0, tf.int64)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def validation_dataset(
    files: list[str],
    *,
    batch_size: int = 32,
    pooling: str = "max",
    bucket_boundaries: tuple[int, ...] = (400, 800, 1600, 3200),
    with_ids: bool = False,
    pad_batches: bool = False,
) -> tf.data.Dataset:
    """Full-length tracks: ``(spectrogram [B, 257, T], logits [B, 8])``.

    Tracks shorter than the student's minimum input (`MIN_INPUT_FRAMES`) are zero-padded to it.
    By default every track is its own batch (B = 1), so the student sees each track exactly as
    on its own: zero padding to a longer neighbour would enter the per-bin normalisation and the
    average pool (with log magnitudes, a padded stretch is far below every speech frame). With
    ``pad_batches=True`` tracks are batched by length buckets and zero-padded to the longest in
    their batch (faster, approximate); longer buckets get proportionally smaller batches so a
    batch holds about the same number of frames.

    Args:
        files: shard files of the split.
        batch_size: with `pad_batches`, tracks per batch in the shortest bucket.
        pooling: pooling of all the track's frame logits into its target.
        bucket_boundaries: with `pad_batches`, frame counts separating the length buckets.
        with_ids: also yield the track ids as a third element (for per-track reports).
        pad_batches: batch tracks of different lengths with zero padding (see above).

    Returns:
        A `tf.data.Dataset` in file order (deterministic).
    """
    if not files:
        raise ValueError("validation_dataset needs at least one shard file; received none.")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}; received {pooling!r}.")
    kind = _audio_kind(files)

    def full(serialized):
        parsed = schema.parse_example(serialized)
        if kind == "spectrogram":
            spectrogram = parsed["spectrogram"]
        else:
            waveform = parsed["waveform"]
            minimum = FRAME_STEP * (MIN_INPUT_FRAMES - 1) + FRAME_LENGTH
            waveform = tf.pad(waveform, [[0, tf.maximum(minimum - tf.shape(waveform)[0], 0)]])
            spectrogram = _waveform_to_spectrogram(waveform)
        spectrogram = tf.pad(
            spectrogram, [[0, tf.maximum(MIN_INPUT_FRAMES - tf.shape(spectrogram)[0], 0)], [0, 0]]
        )
        target = _pool_all(parsed["logits"], pooling)
        return tf.transpose(spectrogram), target, parsed["track_id"]

    ds = tf.data.TFRecordDataset(files).map(full, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not pad_batches:
        ds = ds.batch(1)
        if not with_ids:
            ds = ds.map(lambda spectrogram, target, ids: (spectrogram, target))
        return ds.prefetch(tf.data.AUTOTUNE)
    sizes = [max(1, batch_size * bucket_boundaries[0] // b) for b in (bucket_boundaries[0],) + bucket_boundaries]
    ds = ds.bucket_by_sequence_length(
        element_length_func=lambda spectrogram, target, ids: tf.shape(spectrogram)[1],
        bucket_boundaries=list(bucket_boundaries),
        bucket_batch_sizes=sizes,
        padded_shapes=([schema.NUM_STORED_BINS, None], [NUM_CLASSES], []),
    )
    if not with_ids:
        ds = ds.map(lambda spectrogram, target, ids: (spectrogram, target))
    return ds.prefetch(tf.data.AUTOTUNE)
