"""Benchmark section ``scale``: multi-worker training on this machine and VoxCeleb-scale sizing.

Measured side by side in one run, on random 8 s spectrogram shards:

- one training process using every core of this machine, against two
  `MultiWorkerMirroredStrategy` workers on loopback using one core each, both on the same
  global batch with the paper-size student: the ratio of their training throughputs is the
  data-parallel efficiency here, the price of the all-reduce of every gradient (the student's
  16 million parameters, 64 MB per step) and of the workers' lock-step;
- the FLOPs per labelled frame of the paper's teacher and per training crop of the paper's
  student (analytic, `kerasemo.models.count_conv_flops`).

From those, and the input pipeline's crops/s per CPU core measured in the same run, it writes
the sizing of the paper's EmoVoxCeleb (VoxCeleb1: 153.5k tracks, about 5 million labelled
frames, 50 epochs of 118.5k training crops) and of VoxCeleb2 (1.13 million utterances, 2,442
hours): compute minutes of labelling and of distillation on 1, 8 and 64 GPUs at 40 % of an
H100's dense bf16 peak, the CPU cores needed to feed them, and hours on this CPU at the
throughput just measured. These are estimates from FLOPs, not measurements on GPUs.

The two training set-ups run in fresh processes (`kerasemo.benchmarks.scale_worker`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from kerasemo.benchmarks.harness import H100_BF16_DENSE_FLOPS, H100_UTILISATION, Figure
from kerasemo.benchmarks.random_shards import pipeline_crops_per_second, write_random_shards

NAME = "scale"
TITLE = "Scaling out: two workers on loopback, VoxCeleb sizing estimates"


@dataclasses.dataclass(frozen=True)
class Corpus:
    """The size of a talking-face corpus to label and distil on.

    Args:
        name: the corpus's name in the table.
        tracks: face tracks (utterances) to label.
        train_tracks: tracks in the training split (one 4 s crop each per epoch).
        frames: labelled frames (one every 0.24 s of the tracks).
        source: where the sizes come from.

    Example:

    >>> CORPORA[0].frames
    5000000
    """

    name: str
    tracks: int
    train_tracks: int
    frames: int
    source: str


CORPORA = (
    Corpus("VoxCeleb1 (EmoVoxCeleb)", 153_500, 118_500, 5_000_000,
           "the paper: Table 3 tracks, ~5 million labelled frames"),
    # VoxCeleb2 (Chung et al., 2018): 1,128,246 utterances (1,092,009 in dev), 2,442 hours.
    Corpus("VoxCeleb2", 1_128_246, 1_092_009, round(2_442 * 3600 / 0.24),
           "1,128,246 utterances, 2,442 h: one labelled frame per 0.24 s"),
)
PAPER_EPOCHS = 50
GPU_COUNTS = (1, 8, 64)
GLOBAL_BATCH = 8
"""The global batch of both training set-ups (split over the workers of the cluster)."""

WORKER_TIMEOUT_S = 900


def _worker_command(data: pathlib.Path, threads: int) -> list[str]:
    return [sys.executable, "-m", "kerasemo.benchmarks.scale_worker", str(data), "--threads", str(threads)]


def _run_workers(data: pathlib.Path, workers: int, threads: int) -> dict:
    """Trains in `workers` processes (a loopback cluster when > 1); the first worker's timing."""
    from kerasemo import distribute

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    command = _worker_command(data, threads)
    if workers == 1:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S
        )
        results = [(done.returncode, done.stdout + done.stderr)]
    else:
        results = distribute.run_loopback_workers(
            lambda index: command, workers, env=env, timeout=WORKER_TIMEOUT_S
        )
    for returncode, output in results:
        if returncode != 0 or "RESULT " not in output:
            raise RuntimeError(f"a benchmark worker failed:\n{output[-3000:]}")
    return json.loads(results[0][1].split("RESULT ", 1)[1].splitlines()[0])


def _student_and_teacher_flops() -> tuple[float, float]:
    """(teacher forward FLOPs per 224 x 224 frame, student FLOPs per 4 s training crop)."""
    import keras

    from kerasemo.audio import CROP_SAMPLES, num_frames
    from kerasemo.config import load_config
    from kerasemo.models import VGGMStudent, count_conv_flops
    from kerasemo.models.teacher import teacher_from_config

    paper = load_config("paper")
    keras.utils.set_random_seed(0)
    teacher = teacher_from_config(paper.teacher)
    size = paper.teacher.input_size
    teacher_flops = count_conv_flops(teacher, (size, size, 3))["forward"]
    del teacher
    student = VGGMStudent(
        conv_filters=paper.student.conv_filters,
        fc6_units=paper.student.fc6_units,
        fc7_units=paper.student.fc7_units,
    )
    student_flops = 3 * count_conv_flops(student, (512, num_frames(CROP_SAMPLES)))["forward"]
    return float(teacher_flops), float(student_flops)


def _gpu_rate() -> float:
    """FLOP/s of one H100 at the assumed utilisation of its dense bf16 peak."""
    return H100_BF16_DENSE_FLOPS * H100_UTILISATION


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the multi-worker efficiency here and writes the VoxCeleb sizing estimates.

    Args:
        args: the benchmark namespace (unused: the section's settings are fixed so that its
            figures compare across runs).

    Returns:
        A list of `Figure`.
    """
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        data = pathlib.Path(tmp) / "shards"
        write_random_shards(data, num_tracks=64)
        single = _run_workers(data, workers=1, threads=cores)
        pair = _run_workers(data, workers=2, threads=max(1, cores // 2))
        crops_per_core = pipeline_crops_per_second(data, 32, batches=8) / cores
    efficiency = pair["samples_per_second"] / single["samples_per_second"]
    gradient_mb = single["parameters"] * 4 / 1e6
    teacher_flops, student_flops = _student_and_teacher_flops()
    gpu_note = (
        f"estimate: H100 SXM at {H100_UTILISATION:.0%} of its dense bf16 peak "
        f"({H100_BF16_DENSE_FLOPS / 1e12:.0f} TFLOP/s), compute only, perfect scaling"
    )
    feed = _gpu_rate() / student_flops
    figures = [
        Figure(
            "training throughput, 1 process x {} cores".format(cores),
            single["samples_per_second"],
            "samples/s",
            note=f"paper-size student, global batch {GLOBAL_BATCH}, 4 s crops, float32",
        ),
        Figure(
            "training throughput, 2 loopback workers x {} core(s)".format(max(1, cores // 2)),
            pair["samples_per_second"],
            "samples/s",
            note="MultiWorkerMirroredStrategy, same global batch and cores",
        ),
        Figure(
            "2 workers / 1 process (data-parallel efficiency here)",
            efficiency,
            "ratio",
            note=f"all-reduce of {gradient_mb:.0f} MB of gradients per step over loopback",
        ),
        Figure(
            "input pipeline per CPU core", crops_per_core, "crops/s",
            note="4 s crops with pooled targets from 8 s spectrogram shards (tf.data, no model)",
        ),
        Figure("teacher FLOPs per labelled frame (paper size)", teacher_flops / 1e9, "GFLOP"),
        Figure("student FLOPs per training crop (paper size)", student_flops / 1e9, "GFLOP",
               note="3 x forward, 512 x 400"),
    ]
    for corpus in CORPORA:
        labelling = corpus.frames * teacher_flops
        crops = corpus.train_tracks * PAPER_EPOCHS
        distilling = crops * student_flops
        figures += [
            Figure(f"{corpus.name}: labelling compute", labelling / 1e15, "PFLOP",
                   note=f"{corpus.frames:,} frames of {corpus.tracks:,} tracks ({corpus.source})"),
            Figure(f"{corpus.name}: distillation compute", distilling / 1e15, "PFLOP",
                   note=f"{PAPER_EPOCHS} epochs x {corpus.train_tracks:,} training crops"),
        ]
        for gpus in GPU_COUNTS:
            figures.append(Figure(
                f"{corpus.name}: labelling on {gpus} GPU(s), teacher compute",
                labelling / (gpus * _gpu_rate()) / 60, "min",
                note=gpu_note + "; decoding and cropping the video run on CPU workers (Beam)",
            ))
        for gpus in GPU_COUNTS:
            figures.append(Figure(
                f"{corpus.name}: distillation on {gpus} GPU(s)",
                distilling / (gpus * _gpu_rate()) / 60, "min",
                note=f"{gpu_note}; feeding them takes {gpus * feed / crops_per_core:,.0f} CPU "
                f"cores ({feed:,.0f} crops/s per GPU)",
            ))
        figures.append(Figure(
            f"{corpus.name}: distillation on this CPU",
            crops / single["samples_per_second"] / 3600, "h",
            note=f"at the {single['samples_per_second']:.2f} samples/s measured above (estimate)",
        ))
    return figures

