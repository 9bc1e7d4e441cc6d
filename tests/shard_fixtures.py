"""Small EmoVoxCeleb-style shards for pipeline and distillation tests, and a stand-in teacher
whose rounding depends on how it was traced."""

import keras
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


@keras.saving.register_keras_serializable(package="kerasemo_tests")
class BatchShapeRounding(keras.layers.Layer):
    """Identity, but off by one part in a million when traced with an unknown batch size.

    Real teachers behave so in the last bits: TensorFlow picks other kernels for a graph traced
    with a static batch shape than for one traced with a relaxed shape (about 1e-6 for the demo
    SE-ResNet). A stand-in teacher ending in this layer makes that difference visible on tiny
    fixtures: logits then depend on whether a batch ran through a static or a relaxed trace.
    """

    def call(self, inputs):
        if inputs.shape[0] is None:
            return inputs * (1.0 + 1e-6)
        return inputs


def save_standin_teacher(path, *, trace_sensitive=False):
    """Saves the stand-in face teacher (16 x 16 RGB -> 8 logits) as ``.keras``; returns `path`.

    With `trace_sensitive`, it ends in `BatchShapeRounding`.
    """
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8, kernel_initializer=keras.initializers.RandomNormal(0, 3, seed=1))(x)
    outputs = BatchShapeRounding()(x) if trace_sensitive else x
    keras.Model(inputs, outputs).save(path)
    return path
