"""The TFRecord schema of EmoVoxCeleb-style distillation shards: one example per speaking track.

This module is the only place that writes or parses these examples (`make_example` /
`parse_example`), so the builder and the distillation pipeline cannot disagree. An example holds:

| key                       | type            | content                                                    |
|---------------------------|-----------------|------------------------------------------------------------|
| ``schema_version``        | int64           | `SCHEMA_VERSION`                                           |
| ``track/id``              | bytes           | ``identity/video/track``, unique in a corpus               |
| ``track/identity``        | bytes           | speaker identity (``id10001``)                             |
| ``track/video``           | bytes           | source video id                                            |
| ``track/track``           | bytes           | track id within the video (``00001``)                      |
| ``track/split``           | bytes           | ``train``, ``heard_val`` or ``unheard_val``                |
| ``audio/kind``            | bytes           | ``spectrogram`` or ``waveform``                            |
| ``audio/sample_rate``     | int64           | 16000                                                      |
| ``audio/num_samples``     | int64           | samples of the track's 16 kHz audio                        |
| ``audio/spectrogram``     | bytes           | float16 ``[frames, 257]`` rfft magnitudes / `MAGNITUDE_SCALE` |
| ``audio/num_frames``      | int64           | spectrogram frames (0 for waveform storage)                |
| ``audio/waveform``        | bytes           | int16 ``[num_samples]`` (empty for spectrogram storage)    |
| ``teacher/logits``        | bytes           | float32 ``[num_logit_frames, 8]`` frame-level teacher logits |
| ``teacher/frame_times``   | bytes           | float32 ``[num_logit_frames]`` time (s) of each labelled frame |
| ``teacher/num_frames``    | int64           | number of labelled frames                                  |

Spectrogram storage keeps the 257 non-redundant bins of the VGGVox recipe without per-bin
normalisation (that runs per crop, inside the model). The magnitudes of an int16-scale signal
reach about 1e7, beyond float16's range, so they are stored divided by `MAGNITUDE_SCALE` (2**15,
i.e. the magnitudes of the waveform in [-1, 1]); `parse_example` multiplies back, so the parsed
tensor is the recipe's magnitude up to float16 rounding (relative 2**-11). Mirroring to 512 bins
is exact and happens in the model (`kerasemo.audio.MirrorFrequencyBins`).

Example:

>>> import numpy as np
>>> example = make_example(
...     identity="id10001", video="1zcIwhmdeo4", track="00001", split="train",
...     frame_logits=np.zeros((3, 8), np.float32), frame_times=np.array([0., .24, .48]),
...     num_samples=16000, spectrogram=np.ones((98, 257), np.float32))
>>> parsed = parse_example(example.SerializeToString())
>>> tuple(parsed["spectrogram"].shape), tuple(parsed["logits"].shape)
((98, 257), (3, 8))
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasemo.audio.reference import NUM_RFFT_BINS
from kerasemo.emotions import NUM_CLASSES

SCHEMA_VERSION = 1
MAGNITUDE_SCALE = 2.0**15
NUM_STORED_BINS = NUM_RFFT_BINS
SPLITS = ("train", "heard_val", "unheard_val")
AUDIO_KINDS = ("spectrogram", "waveform")

KEY_SCHEMA_VERSION = "schema_version"
KEY_TRACK_ID = "track/id"
KEY_IDENTITY = "track/identity"
KEY_VIDEO = "track/video"
KEY_TRACK = "track/track"
KEY_SPLIT = "track/split"
KEY_AUDIO_KIND = "audio/kind"
KEY_SAMPLE_RATE = "audio/sample_rate"
KEY_NUM_SAMPLES = "audio/num_samples"
KEY_SPECTROGRAM = "audio/spectrogram"
KEY_NUM_SPECTROGRAM_FRAMES = "audio/num_frames"
KEY_WAVEFORM = "audio/waveform"
KEY_LOGITS = "teacher/logits"
KEY_FRAME_TIMES = "teacher/frame_times"
KEY_NUM_LOGIT_FRAMES = "teacher/num_frames"

_FEATURES = {
    KEY_SCHEMA_VERSION: tf.io.FixedLenFeature([], tf.int64),
    KEY_TRACK_ID: tf.io.FixedLenFeature([], tf.string),
    KEY_IDENTITY: tf.io.FixedLenFeature([], tf.string),
    KEY_VIDEO: tf.io.FixedLenFeature([], tf.string),
    KEY_TRACK: tf.io.FixedLenFeature([], tf.string),
    KEY_SPLIT: tf.io.FixedLenFeature([], tf.string),
    KEY_AUDIO_KIND: tf.io.FixedLenFeature([], tf.string),
    KEY_SAMPLE_RATE: tf.io.FixedLenFeature([], tf.int64),
    KEY_NUM_SAMPLES: tf.io.FixedLenFeature([], tf.int64),
    KEY_SPECTROGRAM: tf.io.FixedLenFeature([], tf.string),
    KEY_NUM_SPECTROGRAM_FRAMES: tf.io.FixedLenFeature([], tf.int64),
    KEY_WAVEFORM: tf.io.FixedLenFeature([], tf.string),
    KEY_LOGITS: tf.io.FixedLenFeature([], tf.string),
    KEY_FRAME_TIMES: tf.io.FixedLenFeature([], tf.string),
    KEY_NUM_LOGIT_FRAMES: tf.io.FixedLenFeature([], tf.int64),
}


def _bytes(value: bytes | str) -> tf.train.Feature:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def track_id(identity: str, video: str, track: str) -> str:
    """The corpus-unique id of a track: ``identity/video/track``."""
    return f"{identity}/{video}/{track}"


def make_example(
    *,
    identity: str,
    video: str,
    track: str,
    split: str,
    frame_logits: np.ndarray,
    frame_times: np.ndarray,
    num_samples: int,
    spectrogram: np.ndarray | None = None,
    waveform: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> tf.train.Example:
    """Builds one track's `tf.train.Example`; give exactly one of `spectrogram` or `waveform`.

    Args:
        identity: speaker identity, e.g. ``"id10001"``.
        video: source video id.
        track: track id within the video, e.g. ``"00001"``.
        split: one of `SPLITS`.
        frame_logits: float ``[F, 8]`` teacher logits of the labelled frames (F >= 1).
        frame_times: float ``[F]`` time in seconds of each labelled frame, non-decreasing.
        num_samples: length of the track's 16 kHz audio in samples.
        spectrogram: float ``[frames, 257]`` rfft magnitudes of the int16-scale recipe
            (time-major), as `VGGVoxSpectrogram(mirror=False, normalize=False)` gives them
            transposed. Stored as float16 after dividing by `MAGNITUDE_SCALE`.
        waveform: float ``[num_samples]`` in [-1, 1] (stored as int16) or int16 samples.
        sample_rate: the audio's rate; the recipe needs 16000.

    Returns:
        The example.

    Raises:
        ValueError: naming the track and the offending field, for wrong shapes, non-finite
            values, an unknown split, or both/neither audio representations.
    """
    name = track_id(identity, video, track)
    if split not in SPLITS:
        raise ValueError(f"Track {name}: split must be one of {SPLITS}; received {split!r}.")
    logits = np.asarray(frame_logits, dtype=np.float32)
    times = np.asarray(frame_times, dtype=np.float32)
    if logits.ndim != 2 or logits.shape[1] != NUM_CLASSES or logits.shape[0] < 1:
        raise ValueError(
            f"Track {name}: frame_logits must have shape [frames >= 1, {NUM_CLASSES}]; "
            f"received {logits.shape}."
        )
    if times.shape != (logits.shape[0],):
        raise ValueError(
            f"Track {name}: frame_times must have one time per logit frame "
            f"({logits.shape[0]}); received shape {times.shape}."
        )
    if not (np.all(np.isfinite(logits)) and np.all(np.isfinite(times))):
        raise ValueError(f"Track {name}: frame_logits and frame_times must be finite.")
    if np.any(np.diff(times) < 0):
        raise ValueError(f"Track {name}: frame_times must be non-decreasing.")
    if (spectrogram is None) == (waveform is None):
        raise ValueError(
            f"Track {name}: give exactly one of spectrogram= or waveform= (received "
            f"{'both' if spectrogram is not None else 'neither'})."
        )
    if num_samples < 1:
        raise ValueError(f"Track {name}: num_samples must be >= 1; received {num_samples}.")

    spectrogram_bytes, waveform_bytes, spectrogram_frames = b"", b"", 0
    if spectrogram is not None:
        spectrogram = np.asarray(spectrogram, dtype=np.float32)
        if spectrogram.ndim != 2 or spectrogram.shape[1] != NUM_STORED_BINS:
            raise ValueError(
                f"Track {name}: spectrogram must be time-major [frames, {NUM_STORED_BINS}]; "
                f"received {spectrogram.shape}."
            )
        scaled = spectrogram / MAGNITUDE_SCALE
        if not np.all(np.isfinite(scaled)) or np.any(scaled < 0) or scaled.max(initial=0) > 65504:
            raise ValueError(
                f"Track {name}: spectrogram magnitudes must be finite, >= 0 and below "
                f"{65504 * MAGNITUDE_SCALE:.3g} (float16 range after scaling)."
            )
        spectrogram_bytes = scaled.astype("<f2").tobytes()
        spectrogram_frames = spectrogram.shape[0]
        kind = "spectrogram"
    else:
        waveform = np.asarray(waveform)
        if waveform.ndim != 1 or waveform.shape[0] != num_samples:
            raise ValueError(
                f"Track {name}: waveform must be 1-D with num_samples={num_samples} samples; "
                f"received shape {waveform.shape}."
            )
        if waveform.dtype != np.int16:
            waveform = np.clip(np.round(waveform * 32768.0), -32768, 32767).astype(np.int16)
        waveform_bytes = waveform.astype("<i2").tobytes()
        kind = "waveform"

    feature = {
        KEY_SCHEMA_VERSION: _int(SCHEMA_VERSION),
        KEY_TRACK_ID: _bytes(name),
        KEY_IDENTITY: _bytes(identity),
        KEY_VIDEO: _bytes(video),
        KEY_TRACK: _bytes(track),
        KEY_SPLIT: _bytes(split),
        KEY_AUDIO_KIND: _bytes(kind),
        KEY_SAMPLE_RATE: _int(sample_rate),
        KEY_NUM_SAMPLES: _int(num_samples),
        KEY_SPECTROGRAM: _bytes(spectrogram_bytes),
        KEY_NUM_SPECTROGRAM_FRAMES: _int(spectrogram_frames),
        KEY_WAVEFORM: _bytes(waveform_bytes),
        KEY_LOGITS: _bytes(logits.astype("<f4").tobytes()),
        KEY_FRAME_TIMES: _bytes(times.astype("<f4").tobytes()),
        KEY_NUM_LOGIT_FRAMES: _int(logits.shape[0]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def parse_example(serialized: tf.Tensor | bytes) -> dict[str, tf.Tensor]:
    """Parses one serialized example into tensors (works eagerly and inside `tf.data`).

    Returns:
        A dict with ``track_id``, ``identity``, ``video``, ``track``, ``split``, ``audio_kind``
        (string scalars); ``sample_rate``, ``num_samples`` (int64 scalars); ``spectrogram``
        (float32 ``[frames, 257]`` recipe magnitudes, ``[0, 257]`` for waveform storage);
        ``waveform`` (float32 ``[num_samples]`` in [-1, 1], ``[0]`` for spectrogram storage);
        ``logits`` (float32 ``[F, 8]``); ``frame_times`` (float32 ``[F]``).
    """
    parsed = tf.io.parse_single_example(serialized, _FEATURES)
    tf.debugging.assert_equal(
        parsed[KEY_SCHEMA_VERSION],
        tf.constant(SCHEMA_VERSION, tf.int64),
        message=f"Shard written with another schema version; this code reads {SCHEMA_VERSION}. "
        "Rebuild the shards with build_emovoxceleb.",
    )
    spectrogram = tf.io.decode_raw(parsed[KEY_SPECTROGRAM], tf.float16, little_endian=True)
    spectrogram = tf.reshape(tf.cast(spectrogram, tf.float32), (-1, NUM_STORED_BINS))
    waveform = tf.io.decode_raw(parsed[KEY_WAVEFORM], tf.int16, little_endian=True)
    logits = tf.io.decode_raw(parsed[KEY_LOGITS], tf.float32, little_endian=True)
    return {
        "track_id": parsed[KEY_TRACK_ID],
        "identity": parsed[KEY_IDENTITY],
        "video": parsed[KEY_VIDEO],
        "track": parsed[KEY_TRACK],
        "split": parsed[KEY_SPLIT],
        "audio_kind": parsed[KEY_AUDIO_KIND],
        "sample_rate": parsed[KEY_SAMPLE_RATE],
        "num_samples": parsed[KEY_NUM_SAMPLES],
        "spectrogram": spectrogram * MAGNITUDE_SCALE,
        "waveform": tf.cast(waveform, tf.float32) / 32768.0,
        "logits": tf.reshape(logits, (-1, NUM_CLASSES)),
        "frame_times": tf.io.decode_raw(parsed[KEY_FRAME_TIMES], tf.float32, little_endian=True),
    }
