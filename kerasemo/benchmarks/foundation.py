"""Benchmark section ``foundation``: the machine's conv reference, the student's step, the front-end.

Figures, side by side in one run:

- the machine's own conv2d throughput (`kerasemo.benchmarks.harness.machine_conv_throughput`);
- the VGG-M student's training step (``args.experiment``'s size, the paper's by default) in
  s/step and samples/s, its FLOPs, and its achieved throughput as a fraction of the conv
  reference (goal >= 0.4); peak memory of the step;
- the graph front-end's cost per batch as a fraction of that step (goal <= 0.02), and the
  in-model mirror + normalisation that runs when training from stored 257-bin spectrograms;
- the graph front-end's throughput against the NumPy reference
  (`kerasemo.audio.vggvox_spectrogram_reference`).
"""

from __future__ import annotations

import argparse
import logging

from kerasemo.benchmarks.harness import Figure, machine_conv_throughput, student_training_step, time_call

logger = logging.getLogger(__name__)

NAME = "foundation"
TITLE = "Foundation: front-end and student"


def _student_figures(args: argparse.Namespace, conv_gflops: float, frames: int) -> list[Figure]:
    step = student_training_step(args)
    achieved = step.train_flops * step.samples_per_second / 1e9
    fraction = achieved / conv_gflops
    return [
        Figure(
            "student training step",
            step.seconds,
            "s/step",
            note=f"batch {args.batch_size}, 512 x {frames}, {args.experiment.name} preset",
        ),
        Figure("student training throughput", step.samples_per_second, "samples/s"),
        Figure(
            "student FLOPs per training sample",
            step.train_flops / 1e9,
            "GFLOP",
            note=f"3 x forward ({step.train_flops / 3 / 1e9:.2f} GFLOP, 2 x MACs of conv/dense layers)",
        ),
        Figure("student achieved throughput", achieved, "GFLOP/s"),
        Figure(
            "achieved / machine conv throughput",
            fraction,
            "ratio",
            goal=">= 0.4",
            met=fraction >= 0.4,
        ),
        Figure(
            "peak memory of the training step",
            (step.peak_bytes - step.baseline_bytes) / 2**20,
            "MiB",
            note=f"RSS above the pre-step baseline; process peak {step.peak_bytes / 2**20:.0f} MiB",
        ),
    ]


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the foundation figures (see the module docstring).

    Args:
        args: the benchmark namespace: ``batch_size``, ``steps``, ``repeats``,
            ``reference_clips`` (clips timed through the NumPy reference), ``jit_compile`` and
            ``experiment`` (its student size is timed).

    Returns:
        A list of `Figure`, in table order.
    """
    import numpy as np
    import tensorflow as tf

    from kerasemo.audio import (
        CROP_SAMPLES,
        MirrorFrequencyBins,
        PerBinNormalization,
        VGGVoxSpectrogram,
        num_frames,
        vggvox_spectrogram_reference,
    )
    from kerasemo.audio.signals import speech_like_signal

    batch = args.batch_size
    frames = num_frames(CROP_SAMPLES)
    conv_gflops, conv_shape = machine_conv_throughput(args)
    figures = [Figure("conv2d throughput (machine reference)", conv_gflops, "GFLOP/s", note=conv_shape)]
    figures += _student_figures(args, conv_gflops, frames)
    step_seconds = student_training_step(args).seconds

    logger.info("graph front-end ...")
    rng = np.random.default_rng(0)
    spectrograms = rng.gamma(2.0, 1000.0, size=(batch, 512, frames)).astype("float32")
    clips = np.stack(
        [speech_like_signal(CROP_SAMPLES / 16000, seed=i) for i in range(batch)]
    ).astype("float32")
    frontend = VGGVoxSpectrogram()
    frontend_fn = tf.function(lambda x: frontend(x), jit_compile=False)
    clips_tensor = tf.constant(clips)
    frontend_seconds = time_call(lambda: frontend_fn(clips_tensor), args.repeats, warmup=2)
    half = tf.constant(spectrograms[:, :257, :])
    mirror, normalise = MirrorFrequencyBins(), PerBinNormalization()
    in_model_fn = tf.function(lambda s: normalise(mirror(s)))
    in_model_seconds = time_call(lambda: in_model_fn(half), args.repeats, warmup=2)
    ratio = frontend_seconds / step_seconds
    figures += [
        Figure(
            "waveform front-end per batch / training step",
            ratio,
            "ratio",
            goal="<= 0.02",
            met=ratio <= 0.02,
            note=f"{frontend_seconds * 1e3:.1f} ms per batch of {batch} x {CROP_SAMPLES} samples",
        ),
        Figure(
            "in-model mirror + normalisation per batch / training step",
            in_model_seconds / step_seconds,
            "ratio",
            note=f"{in_model_seconds * 1e3:.1f} ms; what runs inside the model when training "
            "from stored 257-bin spectrograms",
        ),
    ]

    logger.info("NumPy reference front-end ...")
    reference_clips = clips[: max(1, min(batch, args.reference_clips))]
    reference_seconds = time_call(
        lambda: [vggvox_spectrogram_reference(c) for c in reference_clips], 1, warmup=0
    )
    reference_rate = len(reference_clips) / reference_seconds
    graph_rate = batch / frontend_seconds
    figures += [
        Figure("graph front-end throughput", graph_rate, "clips/s", note="4.024 s clips"),
        Figure("NumPy reference throughput", reference_rate, "clips/s"),
        Figure("graph / NumPy reference throughput", graph_rate / reference_rate, "ratio"),
    ]
    return figures
