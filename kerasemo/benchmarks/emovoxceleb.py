"""Benchmark section ``emovoxceleb``: the builder's throughput, overlap, storage cost, read speed.

`measure(args)` builds a small talking-face corpus (the synthetic corpus's ``demo`` preset when
`kerasemo.data.synthetic` provides ``generate_corpus``, else a built-in stand-in corpus in the
VoxCeleb1 layout) with the demo-size teacher (the ``demo`` preset's SE-ResNet at random
initialisation: the cost of labelling does not depend on the weights), and reports:

- end-to-end tracks/s of the pipelined build (decode threads + writer thread);
- the share of that build's wall time each stage was busy (decoding audio, decoding frames,
  cropping, teacher inference, front-end, writing): shares summing to more than 1 are the
  overlap, and the same build run serially (``workers=0``) shows the wall-time gain;
- bytes stored per second of audio for spectrogram and waveform storage (the waveform build
  re-uses the first build's exported logits, so it measures storage only), and the projected
  size of the full VoxCeleb1 (153,516 utterances, 352 hours; Nagrani et al. 2017) for each;
- reading speed of the written shards with tf.data (parallel interleave + parse), in examples/s
  and MB/s, against the raw read speed of the same files measured in the same run.

Example (``python -m kerasemo.benchmarks --only emovoxceleb --no-write`` prints the figures):

>>> import argparse
>>> from kerasemo.benchmarks import emovoxceleb
>>> figures = emovoxceleb.measure(argparse.Namespace(repeats=20))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import tempfile
import time

from kerasemo.benchmarks.harness import Figure
from kerasemo.checks import check_choice

logger = logging.getLogger(__name__)

NAME = "emovoxceleb"
TITLE = "EmoVoxCeleb building: tracks/s, stage shares, storage, shard reading"
CORPUS_CHOICES = ("auto", "synthetic", "stand-in")
"""``args.emovox_corpus``: the synthetic demo corpus if `kerasemo.data.synthetic` is installed
(auto), either one by name."""

VOXCELEB1_HOURS = 352.0
"""Audio in VoxCeleb1 (Nagrani et al., Interspeech 2017): 153,516 utterances, 352 hours."""
VOXCELEB1_UTTERANCES = 153_516


def _stand_in_corpus(
    root: pathlib.Path, identities: int = 12, tracks: int = 5, seconds: float = 8.0
) -> None:
    """A VoxCeleb1-layout corpus: txt (360-high pixel boxes) + 16 kHz wav + 90x160 mp4 per track."""
    import av
    import numpy as np
    import soundfile

    from kerasemo.audio.signals import speech_like_signal

    frames = int(round(seconds * 25))
    box = (200, 60, 120, 120)  # pixels of a 360-high frame; the video is 90 high
    header = (
        "Identity  : \t{}\nReference : \t{}\nOffset    : \t1\nFV Conf   : \t17.0\t(1)\n"
        "ASD Conf  : \t5.1\n\nFRAME \tX \tY \tW \tH \n"
    )
    rng = np.random.default_rng(0)
    for i in range(identities):
        identity = f"id1{i:04d}"
        for t in range(tracks):
            video = f"bench{i}v{t}"
            first = 100 + 37 * t
            txt = root / "txt" / identity / video / "00001.txt"
            txt.parent.mkdir(parents=True, exist_ok=True)
            rows = "".join(
                f"{first + n:06d} \t{box[0]} \t{box[1]} \t{box[2]} \t{box[3]} \n"
                for n in range(frames)
            )
            txt.write_text(header.format(identity, video) + rows)
            wav = root / "wav" / identity / video / "00001.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(
                str(wav), speech_like_signal(seconds, seed=i * tracks + t), 16000, subtype="PCM_16"
            )
            mp4 = root / "video" / identity / video / "00001.mp4"
            mp4.parent.mkdir(parents=True, exist_ok=True)
            with av.open(str(mp4), "w") as container:
                stream = container.add_stream("libx264", rate=25)
                stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
                stream.options = {"preset": "ultrafast"}
                base = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
                for n in range(frames):
                    image = np.roll(base, n, axis=1)
                    for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                        container.mux(packet)
                for packet in stream.encode(None):
                    container.mux(packet)


def _corpus(tmp: pathlib.Path, which: str = "auto") -> tuple[pathlib.Path, str]:
    generate_corpus = None
    if which != "stand-in":
        try:
            from kerasemo.data.synthetic import generate_corpus
        except ImportError:
            if which == "synthetic":
                raise
    root = tmp / "corpus"
    if generate_corpus is not None:
        generate_corpus(root, preset="demo", seed=0)
        return root, "synthetic corpus (demo preset)"
    _stand_in_corpus(root)
    return root, "stand-in corpus: 60 tracks of 8 s, 90x160 mp4 (kerasemo.data.synthetic absent)"


def _dir_bytes(paths) -> int:
    return sum(os.path.getsize(p) for p in paths)


def _evict(files: list[str]) -> None:
    """Drops the files' pages from the OS page cache (``posix_fadvise(DONTNEED)``), so the next
    read comes from the disk (or whatever caches the virtual disk's host keeps)."""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _read_speeds(files: list[str], passes: int, cold: bool) -> dict[str, float]:
    """Read speeds of the shard files: tf.data with and without parsing, and plain reads.

    Returns ``{"examples_s", "parsed_mb_s", "records_mb_s", "raw_mb_s"}``. With `cold`, the
    page cache is emptied of the files before each of the three measurements.
    """
    import numpy as np
    import tensorflow as tf

    from kerasemo.data import schema

    size = _dir_bytes(files) * passes

    def dataset(parse: bool):
        ds = tf.data.Dataset.from_tensor_slices(files).repeat(passes)
        ds = ds.interleave(
            tf.data.TFRecordDataset,
            cycle_length=4,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=False,
        )
        if parse:
            ds = ds.map(schema.parse_example, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    def run(ds) -> tuple[int, float]:
        # Counted inside the tf.data graph (no per-element Python overhead); the counting
        # function is traced before the clock starts.
        count_fn = tf.function(lambda: ds.reduce(np.int64(0), lambda n, _: n + 1))
        count_fn.get_concrete_function()
        if cold:
            _evict(files)
        start = time.perf_counter()
        count = int(count_fn())
        return count, time.perf_counter() - start

    count, parsed_seconds = run(dataset(True))
    _, records_seconds = run(dataset(False))
    if cold:
        _evict(files)
    start = time.perf_counter()
    for _ in range(passes):
        for path in files:
            with open(path, "rb") as handle:
                while handle.read(1 << 22):
                    pass
    raw_seconds = time.perf_counter() - start
    return {
        "examples_s": count / parsed_seconds,
        "parsed_mb_s": size / parsed_seconds / 1e6,
        "records_mb_s": size / records_seconds / 1e6,
        "raw_mb_s": size / raw_seconds / 1e6,
    }


def _timed_builds(tmp: pathlib.Path, experiment, tracks, report, labeller) -> tuple:
    """A warm-up build on a few tracks, then the serial and the pipelined builds of them all.

    Returns:
        (pipelined `BuildResult`, serial `BuildResult`).
    """
    from kerasemo.data import emovoxceleb

    # Warm-up on one track per identity (tracing of the teacher and front-end functions),
    # then the two timed builds of the whole corpus.
    firsts = [t for t in tracks if t.track_id in {x.track_id for x in tracks[::3]}][:24]
    emovoxceleb.build(
        firsts,
        report,
        tmp / "warmup",
        labeller=labeller,
        config=experiment,
        options=emovoxceleb.BuildOptions(progress=False),
    )
    runs = {}
    for name, workers in (("serial", 0), ("pipelined", 2)):
        logger.info("%s build ...", name)
        options = emovoxceleb.BuildOptions(workers=workers, progress=False, shard_mb=16)
        runs[name] = emovoxceleb.build(
            tracks, report, tmp / name, labeller=labeller, config=experiment, options=options
        )
    return runs["pipelined"], runs["serial"]


def _build_figures(pipelined, serial, audio_seconds: float, frames: int, corpus_note: str) -> list[Figure]:
    """Throughput of the pipelined build and the busy share of each stage against serial."""
    from kerasemo.data import emovoxceleb

    count = pipelined.tracks_written + pipelined.tracks_failed
    figures = [
        Figure(
            "end-to-end build throughput (pipelined)",
            count / pipelined.wall_seconds,
            "tracks/s",
            note=f"{count} tracks, {audio_seconds:.0f} s of audio, {frames} labelled frames; "
            f"{corpus_note}; demo teacher (random init), batch 64, 2 decode threads + writer",
        ),
        Figure(
            "labelled frames per second (pipelined)",
            frames / pipelined.wall_seconds,
            "frames/s",
        ),
    ]
    for stage in emovoxceleb.STAGES:
        figures.append(
            Figure(
                f"busy share of wall time: {stage.replace('_', ' ')}",
                pipelined.stage_seconds[stage] / pipelined.wall_seconds,
                "ratio",
                note=f"pipelined: {pipelined.stage_seconds[stage]:.2f} s busy of "
                f"{pipelined.wall_seconds:.2f} s wall; serial: "
                f"{serial.stage_seconds[stage]:.2f} s of {serial.wall_seconds:.2f} s",
            )
        )
    busy = sum(pipelined.stage_seconds.values())
    figures += [
        Figure(
            "sum of stage busy time / wall time (pipelined)",
            busy / pipelined.wall_seconds,
            "ratio",
            note="> 1: decoding and writing overlap with inference",
        ),
        Figure(
            "serial / pipelined wall time",
            serial.wall_seconds / pipelined.wall_seconds,
            "ratio",
            note=f"serial (workers=0) {serial.wall_seconds:.2f} s, sum of its stages "
            f"{sum(serial.stage_seconds.values()):.2f} s; "
            f"pipelined {pipelined.wall_seconds:.2f} s",
        ),
    ]
    return figures


def _storage_figures(tmp: pathlib.Path, experiment, tracks, report, audio_seconds: float) -> list[Figure]:
    """Bytes per second of audio of both storages (the waveform build re-uses the logits)."""
    from kerasemo.data import emovoxceleb
    from kerasemo.data.emovox_logits import load_emovox_logits

    logger.info("waveform build from the exported logits ...")
    logits = load_emovox_logits(tmp / "pipelined" / "frame_logits.mat")
    file_labeller = emovoxceleb.FileLabeller(logits, fingerprint="bench")
    emovoxceleb.build(
        tracks,
        report,
        tmp / "waveform",
        labeller=file_labeller,
        config=experiment,
        options=emovoxceleb.BuildOptions(audio="waveform", progress=False, shard_mb=16),
    )
    audio_alone = {
        "spectrogram": "100 frames/s x 257 bins x 2 B = 51,400 B/s",
        "waveform": "16,000 x 2 B = 32,000 B/s",
    }
    figures = []
    for kind, folder in (("spectrogram", "pipelined"), ("waveform", "waveform")):
        files = sorted(str(p) for p in (tmp / folder).glob("*.tfrecord"))
        per_second = _dir_bytes(files) / audio_seconds
        figures += [
            Figure(
                f"bytes stored per second of audio: {kind}",
                per_second,
                "B/s",
                note=f"whole examples (audio, logits, times, ids); audio alone: {audio_alone[kind]}",
            ),
            Figure(
                f"projected VoxCeleb1 size: {kind}",
                per_second * VOXCELEB1_HOURS * 3600 / 1e9,
                "GB",
                note=f"{VOXCELEB1_UTTERANCES:,} utterances, {VOXCELEB1_HOURS:.0f} h",
            ),
        ]
    return figures


def _read_figures(files: list[str], repeats: int) -> list[Figure]:
    """Shard reading speeds from a cold and a warm page cache, against plain file reads."""
    logger.info("read speed ...")
    _read_speeds(files, 1, cold=False)  # warm-up: builds the tf.data functions
    megabytes = _dir_bytes(files) / 1e6
    figures = []
    for label, passes, cold in (("cold cache", 1, True), ("warm cache", repeats, False)):
        speeds = _read_speeds(files, passes, cold)
        note = f"{len(files)} files, {megabytes:.1f} MB read {passes}x" + (
            "; page cache emptied (posix_fadvise) before each read"
            if cold
            else "; from the page cache"
        )
        figures += [
            Figure(
                f"shard read, {label}: tf.data interleave + parse",
                speeds["examples_s"],
                "examples/s",
                note=note,
            ),
            Figure(
                f"shard read, {label}: tf.data interleave + parse",
                speeds["parsed_mb_s"],
                "MB/s",
            ),
            Figure(
                f"shard read, {label}: tf.data records, no parse",
                speeds["records_mb_s"],
                "MB/s",
            ),
            Figure(
                f"shard read, {label}: plain file read, same files",
                speeds["raw_mb_s"],
                "MB/s",
                note="Python, 4 MiB blocks",
            ),
            Figure(
                f"shard read, {label}: tf.data parse / plain read",
                speeds["parsed_mb_s"] / speeds["raw_mb_s"],
                "ratio",
            ),
        ]
    return figures


def measure(args: argparse.Namespace) -> list[Figure]:
    """Runs the builder benchmark; returns its figures (see the module docstring).

    Args:
        args: an `argparse.Namespace`; optional attributes: ``experiment`` (an
            `ExperimentConfig`; default: the ``demo`` preset), ``repeats`` (read passes,
            default 20), ``emovox_corpus`` (`CORPUS_CHOICES`; ``"auto"``: the synthetic demo
            corpus if `kerasemo.data.synthetic` is installed, else the stand-in; ``"synthetic"``
            or ``"stand-in"``).

    Returns:
        The figures, in the order of the module docstring.
    """
    import pandas as pd

    from kerasemo.config import load_config
    from kerasemo.data import emovoxceleb, voxceleb
    from kerasemo.models.teacher import load_teacher

    experiment = getattr(args, "experiment", None) or load_config("demo")
    if experiment.name != "demo":
        experiment = load_config("demo")  # the demo teacher is the point of this benchmark
    repeats = max(1, int(getattr(args, "repeats", 20) or 20))
    which = check_choice(getattr(args, "emovox_corpus", "auto") or "auto", "emovox_corpus", CORPUS_CHOICES)
    with tempfile.TemporaryDirectory(prefix="bench_emovox_") as tmp:
        tmp = pathlib.Path(tmp)
        logger.info("writing the corpus ...")
        root, corpus_note = _corpus(tmp, which)
        teacher_path = tmp / "demo_teacher.keras"
        load_teacher(None, experiment.teacher).save(teacher_path)
        tracks, report = voxceleb.scan(root, "voxceleb1")
        labeller = emovoxceleb.load_teacher_labeller(teacher_path, experiment, batch_size=64)
        pipelined, serial = _timed_builds(tmp, experiment, tracks, report, labeller)
        manifest = pd.read_csv(tmp / "pipelined" / "manifest.csv")
        audio_seconds = float(manifest["duration_s"].sum())
        frames = int(manifest["num_logit_frames"].sum())
        figures = _build_figures(pipelined, serial, audio_seconds, frames, corpus_note)
        figures += _storage_figures(tmp, experiment, tracks, report, audio_seconds)
        figures += _read_figures(sorted(str(p) for p in (tmp / "pipelined").glob("*.tfrecord")), repeats)
    return figures
