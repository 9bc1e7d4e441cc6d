"""Benchmark section ``distill``: input pipeline vs training step, H100 feed estimate, streaming memory.

Figures:

- crops/s of the tf.data training pipeline alone (parse, random 4 s crop, pooled target, batch)
  against the paper-size student's training throughput measured in the same run; the pipeline
  must be >= 5x faster so it never starves the model;
- from the student's FLOPs per training sample, the crops/s one H100 at 40 % of its dense bf16
  peak would consume, and the CPU cores this pipeline would need to feed it;
- peak memory of a distillation run (`kerasemo.training.distill`) on 1x and 4x as many shards
  (each in a fresh process): the pipeline streams, so the two must be within 10 %.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time

from kerasemo.benchmarks.harness import (
    H100_BF16_DENSE_FLOPS,
    H100_UTILISATION,
    Figure,
    student_training_throughput,
)
from kerasemo.benchmarks.random_shards import pipeline_crops_per_second, write_random_shards

NAME = "distill"
TITLE = "Distillation: input pipeline, H100 feed estimate, streaming memory"

# The memory comparison uses corpora larger than the shuffle buffer (which holds up to this many
# serialized tracks), as any real corpus is; below that size the buffer simply holds them all.
MEMORY_SHUFFLE_BUFFER = 64
MEMORY_TRACKS = 128


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow, keras
    from kerasemo.config import apply_overrides, load_config
    from kerasemo.benchmarks.harness import PeakMemory
    from kerasemo.training import distill
    experiment = apply_overrides(load_config("demo"), sys.argv[3:])
    with PeakMemory() as memory:
        distill(experiment, sys.argv[1], sys.argv[2], verbose=0)
    print(json.dumps({"peak_mib": memory.peak / 2**20, "baseline_mib": memory.baseline / 2**20}))
    """
)


def _distill_peak_memory(folder: pathlib.Path, out: pathlib.Path) -> tuple[float, float]:
    """(peak RSS above the post-import baseline, process peak) in MiB of a fresh distill run."""
    overrides = [
        "student.conv_filters=[8, 16, 16, 16, 16]",
        "student.fc6_units=32",
        "student.fc7_units=16",
        "distill.batch_size=16",
        "distill.epochs=1",
        f"distill.shuffle_buffer={MEMORY_SHUFFLE_BUFFER}",
    ]
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(folder), str(out), *overrides],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"distill memory run failed:\n{result.stderr[-3000:]}")
    record = json.loads(result.stdout.strip().splitlines()[-1])
    return record["peak_mib"] - record["baseline_mib"], record["peak_mib"]


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the distillation figures (see the module docstring).

    Args:
        args: the benchmark namespace: ``batch_size`` (the pipeline's batch), and what
            `kerasemo.benchmarks.harness.student_training_step` reads.

    Returns:
        A list of `Figure`, in table order.
    """
    figures: list[Figure] = []
    batch = args.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        write_random_shards(root / "x1", num_tracks=64)
        crops_per_second = pipeline_crops_per_second(root / "x1", batch, batches=8)
        samples_per_second, train_flops = student_training_throughput(args)
        ratio = crops_per_second / samples_per_second
        figures += [
            Figure("pipeline throughput (no model)", crops_per_second, "crops/s",
                   note=f"batch {batch}, 8 s tracks, {os.cpu_count()} cores"),
            Figure("student training throughput (same run)", samples_per_second, "samples/s",
                   note="paper size"),
            Figure("pipeline / training step", ratio, "ratio", goal=">= 5", met=ratio >= 5),
        ]
        h100 = H100_BF16_DENSE_FLOPS * H100_UTILISATION / train_flops
        cores = h100 / (crops_per_second / max(1, os.cpu_count() or 1))
        figures += [
            Figure(
                "H100 consumption at 40% of bf16 peak (estimate)",
                h100,
                "crops/s",
                note=f"{H100_BF16_DENSE_FLOPS / 1e12:.0f} TFLOP/s x {H100_UTILISATION:g} / "
                f"{train_flops / 1e9:.1f} GFLOP per sample",
            ),
            Figure("CPU cores this pipeline needs to feed it (estimate)", cores, "cores",
                   note="at this machine's per-core pipeline rate"),
        ]

        write_random_shards(root / "m1", num_tracks=MEMORY_TRACKS)
        write_random_shards(root / "m4", num_tracks=4 * MEMORY_TRACKS)
        start = time.perf_counter()
        peak_1, process_1 = _distill_peak_memory(root / "m1", root / "run1")
        peak_4, process_4 = _distill_peak_memory(root / "m4", root / "run4")
        growth = peak_4 / peak_1 - 1
        figures += [
            Figure(
                f"distill peak memory, 1x shards ({MEMORY_TRACKS} train tracks)",
                peak_1,
                "MiB",
                note=f"RSS above the post-import baseline; process peak {process_1:.0f} MiB; tiny student, "
                f"1 epoch, shuffle buffer {MEMORY_SHUFFLE_BUFFER} tracks",
            ),
            Figure(
                f"distill peak memory, 4x shards ({4 * MEMORY_TRACKS} train tracks)",
                peak_4,
                "MiB",
                note=f"process peak {process_4:.0f} MiB",
            ),
            Figure(
                "4x / 1x peak memory - 1",
                growth,
                "ratio",
                goal="<= 0.10",
                met=abs(growth) <= 0.10,
                note=f"both runs took {time.perf_counter() - start:.0f} s",
            ),
        ]
    return figures
