"""Benchmark section ``beam``: the Apache Beam build against the single-machine EmoVoxCeleb builder.

`measure(args)` writes the synthetic talking-face corpus (``demo`` preset by default), saves
the demo-size teacher (the ``demo`` preset's SE-ResNet at random initialisation: the cost of
labelling does not depend on the weights), and builds the same shards twice, side by side in
one process:

- the single-machine builder (`kerasemo.data.emovoxceleb.build`), after a warm-up build that
  traces its functions: pipelined (2 decoding threads ahead of the teacher, a writer thread,
  its default) and serial (``workers=0``: every stage in one thread, like the in-memory
  DirectRunner);
- the Beam pipeline (`kerasemo.data.beam_build.build`) on the DirectRunner, in memory, one
  worker (Beam's Python runner in this process), after a warm-up pipeline on a few tracks.

It reports the tracks/s of each and the ratios; the Beam pipeline's fixed cost (the wall time
of a pipeline over 3 tracks, which loads and traces its own copy of the teacher as every Beam
worker does); the Beam stages' busy time against its wall time; and whether the two builds
wrote the same examples (the same files byte for byte when the teacher's logits do not depend
on how crops are batched).

Example (``python -m kerasemo.benchmarks --only beam --beam-corpus tiny --no-write`` prints a
quicker, smaller run):

>>> import argparse
>>> from kerasemo.benchmarks import beam
>>> figures = beam.measure(argparse.Namespace(beam_corpus="tiny"))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import pathlib
import tempfile

from kerasemo.benchmarks.harness import Figure
from kerasemo.checks import check_choice

logger = logging.getLogger(__name__)

NAME = "beam"
TITLE = "Apache Beam build against the single-machine builder"
CORPUS_PRESETS = ("demo", "tiny")
"""The synthetic corpus presets the section builds (``args.beam_corpus``; default demo)."""

BEAM_DIRECT = ["--direct_num_workers", "1", "--direct_running_mode", "in_memory"]
"""The Beam pipeline options of the timed run: DirectRunner, in memory, one worker."""
FIXED_COST_TRACKS = 4


def _same_examples(a: pathlib.Path, b: pathlib.Path) -> tuple[bool, bool, float]:
    """(same file names and bytes, same examples up to logits, largest logit difference)."""
    import numpy as np
    import tensorflow as tf

    from kerasemo.data import schema

    def read(folder):
        examples = {}
        for path in sorted(folder.glob("*.tfrecord")):
            for record in tf.data.TFRecordDataset(str(path)):
                parsed = {k: v.numpy() for k, v in schema.parse_example(record).items()}
                examples[(path.name, parsed["track_id"])] = parsed
        return examples

    files_a = {p.name: p.read_bytes() for p in a.glob("*.tfrecord")}
    files_b = {p.name: p.read_bytes() for p in b.glob("*.tfrecord")}
    examples_a, examples_b = read(a), read(b)
    same = examples_a.keys() == examples_b.keys()
    worst = 0.0
    for key in examples_a.keys() & examples_b.keys():
        for field, value in examples_a[key].items():
            other = examples_b[key][field]
            if field == "logits":
                if value.shape != other.shape:
                    same = False
                else:
                    worst = max(worst, float(np.abs(value - other).max(initial=0.0)))
            elif not np.array_equal(value, other):
                same = False
    return files_a == files_b, same, worst


@dataclasses.dataclass
class _Builds:
    """The four builds of one run and the comparison of their outputs."""

    fixed: object
    single: object
    serial: object
    beam: object
    identical_files: bool
    same_examples: bool
    worst_logit_difference: float


def _run_builds(tmp: pathlib.Path, preset: str) -> _Builds:
    """Writes the corpus and the teacher into `tmp`, then the warm-up and the timed builds."""
    from kerasemo.config import load_config
    from kerasemo.data import beam_build, emovoxceleb, voxceleb
    from kerasemo.data.synthetic import generate_corpus
    from kerasemo.models.teacher import load_teacher

    experiment = load_config("demo")
    logger.info("writing the synthetic corpus (%s preset) ...", preset)
    root = tmp / "corpus"
    generate_corpus(root, preset=preset, seed=0, contact_sheet=False)
    teacher_path = tmp / "demo_teacher.keras"
    load_teacher(None, experiment.teacher).save(teacher_path)
    tracks, report = voxceleb.scan(root, "voxceleb1")
    labeller = emovoxceleb.load_teacher_labeller(teacher_path, experiment, batch_size=64)
    options = emovoxceleb.BuildOptions(progress=False, shard_mb=16)
    # A few tracks of distinct identities (the splits need several identities).
    firsts = {}
    for track in tracks:
        firsts.setdefault(track.identity, track)
    few = list(firsts.values())[:FIXED_COST_TRACKS]

    def single_machine(selected, folder, build_options):
        return emovoxceleb.build(
            selected, report, tmp / folder, labeller=labeller, config=experiment,
            options=build_options,
        )

    def on_beam(selected, folder):
        return beam_build.build(
            selected, report, tmp / folder, config=experiment, teacher=teacher_path,
            options=options, pipeline_options=BEAM_DIRECT,
        )

    logger.info("warm-up builds ...")
    single_machine(few, "warmup_single", options)
    fixed = on_beam(few, "warmup_beam")
    logger.info("single-machine builds of %d tracks ...", len(tracks))
    single = single_machine(tracks, "single", options)
    serial = single_machine(tracks, "serial", dataclasses.replace(options, workers=0))
    logger.info("Beam build (DirectRunner, in memory, 1 worker) ...")
    beam = on_beam(tracks, "beam")
    identical_files, same_examples, worst = _same_examples(tmp / "single", tmp / "beam")
    return _Builds(fixed, single, serial, beam, identical_files, same_examples, worst)


def measure(args: argparse.Namespace) -> list[Figure]:
    """Runs the side-by-side benchmark; returns its figures (see the module docstring).

    Args:
        args: an `argparse.Namespace`; optional attribute ``beam_corpus``: the synthetic
            corpus preset, ``"demo"`` (default) or ``"tiny"`` (`CORPUS_PRESETS`).

    Returns:
        The figures: tracks/s of each engine, their ratio, the Beam fixed cost, the Beam busy
        share, and the equality of the outputs.
    """
    preset = check_choice(getattr(args, "beam_corpus", None) or "demo", "beam_corpus", CORPUS_PRESETS)
    with tempfile.TemporaryDirectory(prefix="bench_beam_") as tmp:
        builds = _run_builds(pathlib.Path(tmp), preset)
    single, serial, beam, fixed = builds.single, builds.serial, builds.beam, builds.fixed
    identical_files, same_examples, worst = (
        builds.identical_files, builds.same_examples, builds.worst_logit_difference
    )
    count = single.tracks_written + single.tracks_failed
    single_rate = count / single.wall_seconds
    serial_rate = count / serial.wall_seconds
    beam_rate = (beam.tracks_written + beam.tracks_failed) / beam.wall_seconds
    busy = sum(beam.stage_seconds.values())
    corpus_note = (
        f"{count} tracks of the synthetic {preset} corpus, demo teacher (random init), "
        "batch 64 crops"
    )
    figures = [
        Figure(
            "single-machine build (2 decode threads + writer)",
            single_rate,
            "tracks/s",
            note=f"{corpus_note}; {single.wall_seconds:.2f} s",
        ),
        Figure(
            "single-machine build, serial (workers=0)",
            serial_rate,
            "tracks/s",
            note=f"{serial.wall_seconds:.2f} s",
        ),
        Figure(
            "Beam build, DirectRunner in memory, 1 worker",
            beam_rate,
            "tracks/s",
            note=f"{beam.wall_seconds:.2f} s, including the pipeline's start-up and its own "
            "teacher load",
        ),
        Figure(
            "Beam / single-machine throughput (pipelined)",
            beam_rate / single_rate,
            "ratio",
            note="same process, same corpus, same plan; one after the other",
        ),
        Figure(
            "Beam / single-machine throughput (serial)",
            beam_rate / serial_rate,
            "ratio",
            note="both run every stage in one thread: the gap is Beam's own cost",
        ),
        Figure(
            f"Beam fixed cost ({FIXED_COST_TRACKS}-track pipeline)",
            fixed.wall_seconds,
            "s",
            note="pipeline start-up, teacher load and tracing, shuffle and finish: paid once "
            "per run (and the load once per worker process)",
        ),
        Figure(
            "Beam stage busy time / wall time",
            busy / beam.wall_seconds,
            "ratio",
            note="in memory with 1 worker every stage runs in one thread: the rest of the wall "
            "time is Beam's own work (start-up, batching, shuffle)",
        ),
        Figure(
            "same examples as the single-machine build",
            float(same_examples),
            "bool",
            note=f"shard files byte-identical: {identical_files}; largest logit difference "
            f"{worst:.2g}",
        ),
    ]
    return figures

