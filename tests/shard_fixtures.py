"""Small EmoVoxCeleb-style shards for pipeline and distillation tests."""

import numpy as np
import tensorflow as tf

from kerasemo.audio.signals import speech_like_signal
from kerasemo.data import schema


# A student that distils in seconds on these shards (distill `--set` overrides, no epochs).
TINY_DISTILL = [
    "student.conv_filters=[4, 8, 8, 8, 8]",
    "student.fc6_units=16",
    "student.fc7_units=8",
    "frontend.crop_frames=100",
    "distill.batch_size=4",
    "distill.learning_rate_start=1e-3",
    "distill.learning_rate_end=1e-4",
]


def write_shards(folder, tracks, split="train", per_shard=3, kind="spectrogram"):
    """Writes tracks (frames, logits) as shards.

    Spectrogram storage: bin 0 of row t holds t + 1 (exact in float16 up to 2048 frames) and
    bin 1 holds the track's position in `tracks` + 1, so a crop tells where it came from.
    """
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [tracks[i : i + per_shard] for i in range(0, len(tracks), per_shard)]
    files = []
    for index, chunk in enumerate(chunks):
        path = folder / f"{split}-{index:05d}-of-{len(chunks):05d}.tfrecord"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for number, (frames, logits) in enumerate(chunk):
                audio = {}
                if kind == "spectrogram":
                    spectrogram = np.ones((frames, 257), np.float32)
                    spectrogram[:, 0] = np.arange(1, frames + 1)
                    spectrogram[:, 1] = index * per_shard + number + 1
                    audio["spectrogram"] = spectrogram
                else:
                    audio["waveform"] = speech_like_signal(frames * 160 / 16000, seed=number)
                num_samples = frames * 160 if kind == "spectrogram" else len(audio["waveform"])
                example = schema.make_example(
                    identity=f"id{index:05d}",
                    video="vid",
                    track=f"{number:05d}",
                    split=split,
                    frame_logits=logits,
                    frame_times=np.arange(len(logits)) * 0.24,
                    num_samples=num_samples,
                    **audio,
                )
                writer.write(example.SerializeToString())
        files.append(str(path))
    return files


def ramp_logits(count):
    """Frame k (0-based) has logit k in class 0 and -k in class 1."""
    logits = np.zeros((count, 8), np.float32)
    logits[:, 0] = np.arange(count)
    logits[:, 1] = -np.arange(count)
    return logits


def write_distill_splits(folder):
    """8 training tracks in 2 shard files, 6 heard_val and 6 unheard_val tracks, 150-430 frames,
    12 labelled frames each with one of five dominant emotions (so AUCs exist)."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 8), ("heard_val", 6), ("unheard_val", 6)):
        tracks = []
        for i in range(count):
            logits = rng.standard_normal((12, 8)).astype(np.float32)
            logits[:, i % 5] += 4.0
            tracks.append((150 + 40 * i, logits))
        write_shards(folder, tracks, split=split, per_shard=4)
    return folder
