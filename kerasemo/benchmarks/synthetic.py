"""Benchmark section ``synthetic``: generation time and size of the synthetic corpus.

- the ``demo`` preset's generation, run as the user runs it (``python -m
  kerasemo.experiments.make_synthetic --preset demo`` in a fresh process, imports included):
  wall time against the goal of <= 60 s on a 2-core CPU, and the process's CPU time (the
  figure that shows whether a slow wall time came from a busy machine);
- the ``tiny`` preset's generation in this process (the tests' corpus);
- the demo corpus's size: tracks, minutes of track audio, faces, acted clips, MB on disk, and
  the voice synthesiser's speed as a multiple of real time.
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from kerasemo.benchmarks.harness import Figure

logger = logging.getLogger(__name__)

NAME = "synthetic"
TITLE = "Synthetic corpus generation"
DEMO_GOAL_SECONDS = 60.0


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _voice_speed(seconds: float = 60.0) -> float:
    """Seconds of speech synthesised per second of CPU, on emotional track-like audio."""
    from kerasemo.data.synthetic.seeding import rng_for
    from kerasemo.data.synthetic.trajectories import sample_bias, sample_trajectory
    from kerasemo.data.synthetic.voice import sample_voice, synthesise

    voice = sample_voice(rng_for(0, "bench"), "bench")
    bias = sample_bias(rng_for(0, "bench", "bias"), (0.3, 0.5))
    synthesise(voice, sample_trajectory(rng_for(0, "warm"), 2.0, bias), rng=rng_for(0, "warm", 1))
    produced, start = 0.0, time.process_time()
    index = 0
    while produced < seconds:
        trajectory = sample_trajectory(rng_for(0, "bench", index), 8.0, bias)
        produced += synthesise(voice, trajectory, rng=rng_for(0, "bench", "u", index)).duration
        index += 1
    return produced / (time.process_time() - start)


def measure(args: argparse.Namespace | None) -> list[Figure]:
    """Generates the demo (fresh process) and tiny (in process) corpora; returns the figures.

    Args:
        args: the benchmark's parsed arguments (unused; accepted for the benchmark's section
            interface).

    Returns:
        A list of `Figure`.
    """
    from kerasemo.data.synthetic import generate_corpus

    figures = []
    with tempfile.TemporaryDirectory(prefix="kerasemo-bench-synthetic-") as folder:
        demo_dir = pathlib.Path(folder) / "demo"
        logger.info("synthetic demo corpus (fresh process) ...")
        cpu_before = _children_cpu_seconds()
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "kerasemo.experiments.make_synthetic", "--out", str(demo_dir),
             "--preset", "demo", "--quiet"],
            check=True,
        )
        wall = time.perf_counter() - start
        cpu = _children_cpu_seconds() - cpu_before
        summary = json.loads((demo_dir / "corpus.json").read_text())
        counts = summary["counts"]
        figures += [
            Figure(
                "synthetic demo corpus: generation (make_synthetic, fresh process)",
                wall, "s", goal=f"<= {DEMO_GOAL_SECONDS:.0f}", met=wall <= DEMO_GOAL_SECONDS,
                note=f"CPU {cpu:.1f} s; interpreter start and imports included",
            ),
            Figure("synthetic demo corpus: tracks", counts["tracks"], "tracks",
                   note=f"{counts['identities']} identities, {counts['videos']} videos, "
                   f"{counts['tracks_under_4s']} under 4 s"),
            Figure("synthetic demo corpus: track audio", counts["track_audio_seconds"] / 60, "min",
                   note=f"{counts['face_crops']} face crops (every 6th frame at 25 fps)"),
            Figure("synthetic demo corpus: FERPlus rows", counts["faces"], "images",
                   note=str(counts["faces_by_usage"])),
            Figure("synthetic demo corpus: acted clips", counts["rml_clips"] + counts["cremad_clips"],
                   "clips",
                   note=f"{counts['rml_clips']} RML-like + {counts['cremad_clips']} CREMA-D-like, "
                   f"{counts['acted_audio_seconds'] / 60:.1f} min"),
            Figure("synthetic demo corpus: size on disk", counts["bytes"] / 1e6, "MB"),
        ]
        logger.info("synthetic tiny corpus (in process) ...")
        start = time.perf_counter()
        cpu_start = time.process_time() + _children_cpu_seconds()
        generate_corpus(pathlib.Path(folder) / "tiny", preset="tiny", seed=0)
        wall = time.perf_counter() - start
        cpu = time.process_time() + _children_cpu_seconds() - cpu_start
        figures.append(
            Figure("synthetic tiny corpus: generation (in process)", wall, "s",
                   note=f"CPU {cpu:.1f} s (workers included); the tests' corpus")
        )
    figures.append(
        Figure("voice synthesiser speed", _voice_speed(), "x real time",
               note="seconds of 16 kHz emotional speech per CPU second")
    )
    return figures
