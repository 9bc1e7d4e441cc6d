"""Benchmark section ``student``: the demo student's training step, before and after, per layer.

Measured side by side in one process:

- the distillation step (`kerasemo.training.build_distiller`, batch 32, 4 s crops of stored
  257-bin spectrograms) of the demo student with the previous recipe (`kerasemo.evaluation.diagnosis.PREVIOUS_RECIPE`:
  VGGVox input, linear magnitudes mirrored to 512 bins) and with the demo preset as it is (257
  bins, log magnitudes), and their throughput ratio;
- the paper-size student's step against the machine's conv reference (shared with the
  ``foundation`` section);
- a per-layer forward profile of both demo students (each layer timed alone on the previous
  layer's output, batch 32), where the first block's full-resolution maps dominate.
"""

from __future__ import annotations

import argparse
import logging
import time

from kerasemo import config as config_lib
from kerasemo.benchmarks.harness import (
    Figure,
    machine_conv_throughput,
    student_training_step,
    time_call,
)

logger = logging.getLogger(__name__)

NAME = "student"
TITLE = "Demo student: training step before and after, paper-size step, per-layer profile"



def distill_step_seconds(experiment, batch_size: int, steps: int) -> float:
    """Seconds per `Distiller` training step of `experiment`'s student on random stored crops.

    Args:
        experiment: the configuration (student, front-end crop, distillation settings).
        batch_size: crops per step.
        steps: timed steps (after a 2-step warm-up fit that traces the step).

    Returns:
        The mean seconds per step.

    Example:

    >>> distill_step_seconds(load_config("demo"), batch_size=32, steps=3)  # doctest: +SKIP
    """
    import numpy as np
    import tensorflow as tf

    from kerasemo.training import build_distiller

    frames = experiment.frontend.crop_frames
    rng = np.random.default_rng(0)
    spectrograms = rng.gamma(2.0, 1000.0, size=(batch_size, 257, frames)).astype("float32")
    logits = rng.standard_normal((batch_size, 8)).astype("float32")
    distiller = build_distiller(experiment, steps_per_epoch=max(steps, 1))
    data = tf.data.Dataset.from_tensors((spectrograms, logits)).repeat()
    distiller.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    distiller.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps


def layer_profile(student, inputs, repeats: int) -> list[tuple[str, tuple, float]]:
    """Forward time of each layer of a chain-shaped functional model, alone on its real input.

    Args:
        student: a functional model whose layers form a chain (the `VGGMStudent`).
        inputs: a batch of its input.
        repeats: timed calls per layer (after one warm-up call).

    Returns:
        ``(layer name, output shape, median seconds)`` per layer, in order.

    Example:

    >>> rows = layer_profile(student, spectrograms, repeats=3)  # doctest: +SKIP
    """
    import tensorflow as tf

    rows = []
    x = tf.constant(inputs)
    for layer in student.layers[1:]:  # [0] is the InputLayer
        call = tf.function(lambda t, layer=layer: layer(t, training=False))
        seconds = time_call(lambda: call(x).numpy(), repeats, warmup=1)
        x = call(x)
        rows.append((layer.name, tuple(x.shape[1:]), seconds))
    return rows


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the demo student figures (see the module docstring).

    Args:
        args: the benchmark namespace: ``batch_size``, ``steps`` (at least 3 are timed),
            ``repeats`` (per-layer timings), and what
            `kerasemo.benchmarks.harness.student_training_step` reads.

    Returns:
        A list of `Figure`, in table order.
    """
    import numpy as np

    from kerasemo.models import student_from_config

    batch, steps = args.batch_size, max(args.steps, 3)
    current = config_lib.load_config("demo")
    from kerasemo.evaluation.diagnosis import PREVIOUS_RECIPE  # loads TensorFlow: not at import

    previous = config_lib.apply_overrides(current, list(PREVIOUS_RECIPE))
    figures: list[Figure] = []
    timings = {}
    for name, experiment in (("previous", previous), ("demo", current)):
        logger.info("demo student step (%s recipe) ...", name)
        timings[name] = distill_step_seconds(experiment, batch, steps)
        figures += [
            Figure(f"demo student training step, {name} recipe", timings[name], "s/step",
                   note=f"batch {batch}, {experiment.frontend.num_bins} x {experiment.frontend.crop_frames}, "
                   f"log magnitudes: {experiment.student.log_magnitude}"),
            Figure(f"demo student training throughput, {name} recipe", batch / timings[name], "crops/s"),
        ]
    speedup = timings["previous"] / timings["demo"]
    figures.append(Figure("demo student throughput, demo / previous recipe", speedup, "ratio",
                          goal=">= 3", met=speedup >= 3))

    conv_gflops, _ = machine_conv_throughput(args)
    paper = student_training_step(args)
    fraction = paper.train_flops * paper.samples_per_second / 1e9 / conv_gflops
    figures += [
        Figure("paper-size student training step", paper.seconds, "s/step", note=f"batch {batch}, 512 x 400"),
        Figure("paper-size student achieved / machine conv throughput", fraction, "ratio",
               goal=">= 0.6", met=fraction >= 0.6, note=f"conv reference {conv_gflops:.0f} GFLOP/s"),
    ]

    rng = np.random.default_rng(0)
    for name, experiment in (("previous", previous), ("demo", current)):
        student = student_from_config(experiment)
        inputs = rng.gamma(2.0, 1000.0, size=(batch, 257, experiment.frontend.crop_frames)).astype("float32")
        logger.info("per-layer forward profile (%s recipe) ...", name)
        rows = layer_profile(student, inputs, args.repeats)
        total = sum(seconds for _, _, seconds in rows)
        for layer, shape, seconds in rows:
            if seconds >= 0.02 * total:  # the layers that matter; the rest is in the total
                figures.append(Figure(f"forward {layer} ({name} recipe)", 1e3 * seconds, "ms",
                                      note=f"output {'x'.join(map(str, shape))}"))
        figures.append(Figure(f"forward, all layers ({name} recipe)", 1e3 * total, "ms",
                              note=f"batch {batch}, each layer timed alone"))
    return figures
