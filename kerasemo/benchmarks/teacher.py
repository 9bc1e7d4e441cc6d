"""Benchmark section ``teacher``: inference throughput, demo training, labelling estimates.

- Teacher inference at paper size (224 x 224 RGB, batch 64, through `predict_frame_logits`, the
  labelling API): frames/s, achieved GFLOP/s and their fraction of the machine's conv2d
  throughput measured in the same run (goal >= 0.4).
- Demo-preset teacher training step (random 0-255 crops, the optimiser, loss and weight decay
  of `kerasemo.training.train_teacher`): samples/s.
- From the measured FLOPs per frame: the time to label the ~5 million VoxCeleb frames on this
  CPU (at the measured rate) and on one H100 SXM at 40 % of its dense bf16 peak (an estimate).
"""

from __future__ import annotations

import argparse
import logging

from kerasemo.benchmarks.harness import (
    H100_BF16_DENSE_FLOPS,
    H100_UTILISATION,
    Figure,
    machine_conv_throughput,
    time_call,
)

logger = logging.getLogger(__name__)

NAME = "teacher"
TITLE = "Face teacher: inference throughput, demo training, labelling estimates"

# The paper labels ~5 million VoxCeleb frames (one every 0.24 s of the face tracks).
VOXCELEB_FRAMES = 5_000_000
INFERENCE_BATCH = 64


def _human_duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def _inference_figures(args: argparse.Namespace, rng, conv_gflops: float) -> tuple[list, float, float]:
    """The paper-size teacher's inference through the labelling API.

    Returns:
        (figures, frames/s, forward FLOPs per frame).
    """
    import dataclasses

    import keras

    from kerasemo.models import count_conv_flops
    from kerasemo.models.teacher import teacher_from_config
    from kerasemo.models.teacher_inference import predict_frame_logits

    config = dataclasses.replace(args.experiment.teacher, input_size=224)
    logger.info("teacher inference, batch %d, 224 x 224 ...", INFERENCE_BATCH)
    keras.utils.set_random_seed(0)
    teacher = teacher_from_config(config)
    frames = rng.integers(0, 256, (INFERENCE_BATCH, 224, 224, 3)).astype("uint8")
    seconds = time_call(
        lambda: predict_frame_logits(teacher, frames, batch_size=INFERENCE_BATCH),
        args.steps,
        warmup=1,
    )
    flops_per_frame = count_conv_flops(teacher, (224, 224, 3))["forward"]
    frames_per_second = INFERENCE_BATCH / seconds
    achieved = flops_per_frame * frames_per_second / 1e9
    fraction = achieved / conv_gflops
    blocks = "-".join(map(str, config.blocks_per_stage))
    figures = [
        Figure(
            "teacher inference throughput",
            frames_per_second,
            "frames/s",
            note=f"SE-ResNet ({blocks} blocks, width {config.base_width}), 224 x 224, batch "
            f"{INFERENCE_BATCH}, float32, predict_frame_logits",
        ),
        Figure(
            "teacher FLOPs per frame",
            flops_per_frame / 1e9,
            "GFLOP",
            note="2 x MACs of conv/dense layers (count_conv_flops)",
        ),
        Figure("teacher achieved inference throughput", achieved, "GFLOP/s"),
        Figure(
            "teacher inference / machine conv throughput",
            fraction,
            "ratio",
            goal=">= 0.4",
            met=fraction >= 0.4,
        ),
    ]
    return figures, frames_per_second, flops_per_frame


def _demo_training_figure(args: argparse.Namespace, rng) -> Figure:
    """The demo preset's teacher training step (model step only, no input pipeline)."""
    import keras
    import numpy as np

    from kerasemo.config import load_config
    from kerasemo.models import count_conv_flops
    from kerasemo.models.teacher import teacher_from_config
    from kerasemo.training import attach_weight_decay

    demo = load_config("demo").teacher
    logger.info("demo teacher training step, batch %d, %d x %d ...", demo.batch_size,
                demo.input_size, demo.input_size)
    keras.utils.set_random_seed(0)
    demo_teacher = teacher_from_config(demo)
    attach_weight_decay(demo_teacher, demo.weight_decay)
    demo_teacher.compile(
        optimizer=keras.optimizers.SGD(
            learning_rate=demo.learning_rates[0], momentum=demo.momentum
        ),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        jit_compile=getattr(args, "jit_compile", "auto"),
    )
    images = rng.uniform(0, 255, (demo.batch_size, demo.input_size, demo.input_size, 3)).astype(
        "float32"
    )
    targets = rng.dirichlet(np.ones(8), demo.batch_size).astype("float32")
    step_seconds = time_call(
        lambda: demo_teacher.train_on_batch(images, targets), max(args.steps, 3), warmup=2
    )
    demo_flops = count_conv_flops(demo_teacher, (demo.input_size, demo.input_size, 3))["forward"]
    return Figure(
        "demo teacher training throughput",
        demo.batch_size / step_seconds,
        "samples/s",
        note=f"{demo.input_size} x {demo.input_size}, batch {demo.batch_size}, "
        f"{demo_teacher.count_params():,} parameters, {demo_flops / 1e6:.1f} MFLOP forward; "
        "model step only (no input pipeline)",
    )


def _labelling_figures(frames_per_second: float, flops_per_frame: float) -> list[Figure]:
    """Labelling VoxCeleb's frames: at the rate measured here, and estimated on an H100."""
    cpu_seconds = VOXCELEB_FRAMES / frames_per_second
    h100_rate = H100_UTILISATION * H100_BF16_DENSE_FLOPS
    h100_seconds = VOXCELEB_FRAMES * flops_per_frame / h100_rate
    return [
        Figure(
            "label 5M VoxCeleb frames on this CPU",
            cpu_seconds / 3600,
            "h",
            note=f"{_human_duration(cpu_seconds)} at the measured {frames_per_second:.1f} frames/s",
        ),
        Figure(
            "label 5M VoxCeleb frames on one H100 (estimate)",
            h100_seconds / 60,
            "min",
            note=f"{VOXCELEB_FRAMES:,} x {flops_per_frame / 1e9:.2f} GFLOP at 40% of the H100 SXM "
            f"dense bf16 peak ({H100_BF16_DENSE_FLOPS / 1e12:.0f} TFLOP/s), compute only "
            "(decoding and cropping not included)",
        ),
    ]


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the teacher figures (see the module docstring).

    Args:
        args: a namespace with `repeats` (timed repeats of the conv reference), `steps` (timed
            inference batches and training steps) and `experiment` (an `ExperimentConfig`; its
            teacher is the "paper size" model); `jit_compile` is used when present.

    Returns:
        A list of `Figure`, in table order.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    conv_gflops, conv_note = machine_conv_throughput(args)
    figures = [Figure("conv2d throughput (machine reference)", conv_gflops, "GFLOP/s", note=conv_note)]
    inference, frames_per_second, flops_per_frame = _inference_figures(args, rng, conv_gflops)
    figures += inference
    figures.append(_demo_training_figure(args, rng))
    figures += _labelling_figures(frames_per_second, flops_per_frame)
    return figures
