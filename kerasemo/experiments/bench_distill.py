"""Benchmark section ``distill``: input pipeline vs training step, H100 feed estimate, streaming memory.

Figures:

- crops/s of the tf.data training pipeline alone (parse, random 4 s crop, pooled target, batch)
  against the paper-size student's training throughput measured in the same run; the pipeline
  must be >= 5x faster so it never starves the model;
- from the student's FLOPs per training sample, the crops/s one H100 at 40 % of its dense bf16
  peak would consume, and the CPU cores this pipeline would need to feed it;
- peak memory of a distillation run on 1x and 4x as many shards (each in a fresh process): the
  pipeline streams, so the two must be within 10 %.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

from kerasemo.experiments.benchmark import Figure, _time_call

H100_BF16_DENSE_TFLOPS = 989.0  # NVIDIA H100 SXM dense bf16 peak (TFLOP/s)
H100_UTILISATION = 0.4
TRACK_FRAMES = 800  # 8 s tracks, VoxCeleb's typical length
# The memory comparison uses corpora larger than the shuffle buffer (which holds up to this many
# serialized tracks), as any real corpus is; below that size the buffer simply holds them all.
MEMORY_SHUFFLE_BUFFER = 64
MEMORY_TRACKS = 128


def write_random_shards(folder: pathlib.Path, num_tracks: int, tracks_per_shard: int = 16, seed: int = 0):
    """Writes `num_tracks` random 8 s training tracks (spectrogram storage) and validation tracks.

    Each validation split gets at least 48 tracks, more than one length-bucketed validation
    batch (32 tracks), so that validation memory is at its steady state as in any real corpus.
    """
    import tensorflow as tf

    from kerasemo.data import schema

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    validation = max(48, num_tracks // 8)
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


def _pipeline_crops_per_second(folder: pathlib.Path, batch_size: int, batches: int) -> float:
    from kerasemo.data import pipeline

    files = pipeline.shard_files(folder, "train")
    ds = pipeline.training_dataset(files, batch_size=batch_size, repeat=True)
    iterator = iter(ds)
    for _ in range(3):  # warm up: fill prefetch buffers, trace the map function
        next(iterator)

    def consume():
        for _ in range(batches):
            next(iterator)

    return batches * batch_size / _time_call(consume, repeats=3, warmup=0)


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow, keras
    from kerasemo.config import apply_overrides, load_config
    from kerasemo.experiments.benchmark import _PeakMemory
    from kerasemo.experiments.distill import run_distillation
    experiment = apply_overrides(load_config("demo"), sys.argv[3:])
    with _PeakMemory() as memory:
        run_distillation(experiment, sys.argv[1], sys.argv[2], verbose=0)
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


def measure(args) -> list[Figure]:
    from kerasemo.experiments.benchmark import student_training_throughput

    figures: list[Figure] = []
    batch = args.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        write_random_shards(root / "x1", num_tracks=64)
        crops_per_second = _pipeline_crops_per_second(root / "x1", batch, batches=8)
        samples_per_second, train_flops = student_training_throughput(args)
        ratio = crops_per_second / samples_per_second
        figures += [
            Figure("pipeline throughput (no model)", crops_per_second, "crops/s", note=f"batch {batch}, 8 s tracks, {os.cpu_count()} cores"),
            Figure("student training throughput (same run)", samples_per_second, "samples/s", note="paper size"),
            Figure("pipeline / training step", ratio, "ratio", goal=">= 5", met=ratio >= 5),
        ]
        h100 = H100_BF16_DENSE_TFLOPS * 1e12 * H100_UTILISATION / train_flops
        cores = h100 / (crops_per_second / max(1, os.cpu_count() or 1))
        figures += [
            Figure(
                "H100 consumption at 40% of bf16 peak (estimate)",
                h100,
                "crops/s",
                note=f"{H100_BF16_DENSE_TFLOPS:.0f} TFLOP/s x 0.4 / {train_flops / 1e9:.1f} GFLOP per sample",
            ),
            Figure("CPU cores this pipeline needs to feed it (estimate)", cores, "cores", note="at this machine's per-core pipeline rate"),
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
