"""Measures kerasemo's performance figures and writes them to ``experiments/benchmarks.md``.

Every figure is measured in one process, side by side, so that ratios (the figures that carry
over between machines) are not skewed by another job on a shared machine. Absolute figures are
one-off measurements on the machine described in the table's header.

Sections (``--only`` selects some; the file keeps the other sections as they were):

- ``foundation``: the machine's own conv2d throughput; the VGG-M student's training step (paper
  size unless ``--config``/``--set`` say otherwise) in samples/s and as a fraction of the conv
  throughput; the graph front-end's cost per batch as a fraction of that step; graph front-end
  vs NumPy reference throughput; peak memory of the training step.
- ``synthetic``: generation time of the embedded corpus (demo and tiny presets).
- ``teacher``: teacher inference throughput at paper size, demo training throughput, and the
  estimated cost of labelling VoxCeleb's frames on this CPU and on an H100.
- ``emovoxceleb``: shard building speed and stage shares, storage per second of audio, shard
  reading speed against raw disk reads.
- ``probe``: embedding extraction real-time factor; probe fit time vs scikit-learn.
- ``export``: real-time factor of Keras, SavedModel and TFLite variants, with model sizes.
- ``distill``: input-pipeline throughput vs the training step, an H100 feed estimate, peak
  memory of distillation on 1x and 4x as many shards.
- ``student``: the demo student's training step with the previous and the current demo recipe
  and their ratio, the paper-size step against the conv reference, per-layer forward profiles.

The conv reference and the student's training step are measured once per run and shared.

Example:

    python -m kerasemo.experiments.benchmark                  # all sections, update the table
    python -m kerasemo.experiments.benchmark --steps 2 --no-write
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import pathlib
import platform
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import config as config_lib  # noqa: E402

DEFAULT_OUTPUT = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "benchmarks.md"

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Figure:
    """One measured figure: what, value, unit, and the goal it is held to (if any)."""

    name: str
    value: float
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""


def _time_call(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of `fn` over `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class _PeakMemory:
    """Samples the process's resident set size in a thread; reports the peak above a baseline."""

    def __init__(self, interval: float = 0.02):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self.peak = self._process.memory_info().rss

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


# Large float32 convolutions (batch, height, width, in channels, out channels, kernel, stride):
# a generic 3x3 layer, and the student's own conv2 and conv3 shapes at batch 32.
_REFERENCE_CONVS = (
    (8, 64, 64, 256, 256, 3, 1),
    (32, 126, 99, 96, 256, 5, 2),
    (32, 30, 24, 256, 256, 3, 1),
)


def _conv_throughput(repeats: int) -> tuple[float, str]:
    """The machine's conv2d throughput: best GFLOP/s over `_REFERENCE_CONVS` (forward, float32).

    Each convolution runs as one TensorFlow op (oneDNN on x86 CPUs), the fastest path the
    machine offers, so the figure is a ceiling for what a whole model can reach.
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    best, best_shape = 0.0, ""
    for batch, height, width, c_in, c_out, kernel, stride in _REFERENCE_CONVS:
        x = tf.constant(rng.standard_normal((batch, height, width, c_in)), tf.float32)
        w = tf.constant(rng.standard_normal((kernel, kernel, c_in, c_out)) * 0.01, tf.float32)
        conv = tf.function(lambda x=x, w=w, s=stride: tf.nn.conv2d(x, w, s, "SAME"))
        seconds = _time_call(lambda: conv().numpy(), repeats, warmup=2)
        out_h, out_w = -(-height // stride), -(-width // stride)
        gflops = 2 * batch * out_h * out_w * c_in * c_out * kernel * kernel / seconds / 1e9
        logger.info("  conv %s: %.1f GFLOP/s", (batch, height, width, c_in, c_out, kernel, stride), gflops)
        if gflops > best:
            best = gflops
            best_shape = f"best of {len(_REFERENCE_CONVS)} convs: {batch}x{height}x{width}x{c_in} -> {c_out}, {kernel}x{kernel}/{stride}"
    return best, best_shape


def _student_step(args):
    """Times the student's training step once per benchmark run (shared by the sections).

    Returns:
        (seconds per step, samples/s, FLOPs per training sample, peak RSS, baseline RSS).
    """
    if "student_step" in args.shared:
        return args.shared["student_step"]
    import keras
    import numpy as np

    from kerasemo.audio import CROP_SAMPLES, num_frames
    from kerasemo.models import VGGMStudent, count_conv_flops

    batch = args.batch_size
    logger.info("student training step, batch %d, 512 x 400 ...", batch)
    frames = num_frames(CROP_SAMPLES)
    rng = np.random.default_rng(0)
    spectrograms = rng.gamma(2.0, 1000.0, size=(batch, 512, frames)).astype("float32")
    targets = keras.ops.convert_to_numpy(keras.ops.softmax(rng.standard_normal((batch, 8)) / 2.0))
    student_config = args.experiment.student
    student = VGGMStudent(
        conv_filters=student_config.conv_filters,
        fc6_units=student_config.fc6_units,
        fc7_units=student_config.fc7_units,
    )
    student.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1e-4, momentum=0.9),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        jit_compile=args.jit_compile,
    )
    step = lambda: student.train_on_batch(spectrograms, targets)  # noqa: E731
    with _PeakMemory() as memory:
        step_seconds = _time_call(step, args.steps, warmup=1)
    train_flops = 3 * count_conv_flops(student, (512, frames))["forward"]
    result = (step_seconds, batch / step_seconds, train_flops, memory.peak, memory.baseline)
    args.shared["student_step"] = result
    return result


def student_training_throughput(args) -> tuple[float, float]:
    """(samples/s, FLOPs per training sample) of the paper-size student, measured once per run."""
    _, samples_per_second, train_flops, _, _ = _student_step(args)
    return samples_per_second, train_flops


def machine_conv_throughput(args) -> tuple[float, str]:
    """The machine's conv2d GFLOP/s (`_conv_throughput`), measured once per benchmark run."""
    if "conv" not in args.shared:
        logger.info("conv2d throughput ...")
        args.shared["conv"] = _conv_throughput(args.repeats)
    return args.shared["conv"]


def _foundation(args) -> list[Figure]:
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
    figures: list[Figure] = []

    # (1) The machine's own conv throughput.
    conv_gflops, conv_shape = machine_conv_throughput(args)
    figures.append(Figure("conv2d throughput (machine reference)", conv_gflops, "GFLOP/s", note=conv_shape))

    # (2) Student training step at paper size.
    step_seconds, samples_per_second, train_flops, peak, baseline = _student_step(args)
    forward_flops = train_flops / 3
    achieved = train_flops * samples_per_second / 1e9
    fraction = achieved / conv_gflops
    frames = num_frames(CROP_SAMPLES)
    figures += [
        Figure(
            "student training step",
            step_seconds,
            "s/step",
            note=f"batch {batch}, 512 x {frames}, {args.experiment.name} preset",
        ),
        Figure("student training throughput", samples_per_second, "samples/s"),
        Figure(
            "student FLOPs per training sample",
            train_flops / 1e9,
            "GFLOP",
            note=f"3 x forward ({forward_flops / 1e9:.2f} GFLOP, 2 x MACs of conv/dense layers)",
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
            (peak - baseline) / 2**20,
            "MiB",
            note=f"RSS above the pre-step baseline; process peak {peak / 2**20:.0f} MiB",
        ),
    ]
    rng = np.random.default_rng(0)
    spectrograms = rng.gamma(2.0, 1000.0, size=(batch, 512, frames)).astype("float32")

    # (3) Graph front-end cost per batch as a fraction of the training step.
    logger.info("graph front-end ...")
    clips = np.stack(
        [speech_like_signal(CROP_SAMPLES / 16000, seed=i) for i in range(batch)]
    ).astype("float32")
    frontend = VGGVoxSpectrogram()
    frontend_fn = tf.function(lambda x: frontend(x), jit_compile=False)
    clips_tensor = tf.constant(clips)
    frontend_seconds = _time_call(lambda: frontend_fn(clips_tensor), args.repeats, warmup=2)
    half = tf.constant(spectrograms[:, :257, :])
    mirror, normalise = MirrorFrequencyBins(), PerBinNormalization()
    in_model_fn = tf.function(lambda s: normalise(mirror(s)))
    in_model_seconds = _time_call(lambda: in_model_fn(half), args.repeats, warmup=2)
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

    # (4) Graph front-end vs NumPy reference.
    logger.info("NumPy reference front-end ...")
    reference_clips = clips[: max(1, min(batch, args.reference_clips))]
    reference_seconds = _time_call(
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


# Section name -> (title, "module:function"); modules are imported only when their section runs.
SECTIONS: dict[str, tuple[str, str]] = {
    "foundation": ("Foundation: front-end and student", f"{__name__}:_foundation"),
    "synthetic": (
        "Synthetic corpus generation",
        "kerasemo.experiments.bench_synthetic:measure",
    ),
    "teacher": (
        "Face teacher: inference throughput, demo training, labelling estimates",
        "kerasemo.experiments.bench_teacher:measure",
    ),
    "emovoxceleb": (
        "EmoVoxCeleb building: tracks/s, stage shares, storage, shard reading",
        "kerasemo.experiments.bench_emovoxceleb:measure",
    ),
    "probe": (
        "Linear probes: embedding extraction speed, probe fit vs scikit-learn",
        "kerasemo.experiments.bench_probe:measure",
    ),
    "export": (
        "Export and inference: real-time factors and model sizes",
        "kerasemo.experiments.bench_export:measure",
    ),
    "distill": (
        "Distillation: input pipeline, H100 feed estimate, streaming memory",
        "kerasemo.experiments.bench_distill:measure",
    ),
    "student": (
        "Demo student: training step before and after, paper-size step, per-layer profile",
        "kerasemo.experiments.bench_student:measure",
    ),
    "beam": (
        "Apache Beam build against the single-machine builder",
        "kerasemo.experiments.bench_beam:measure",
    ),
    "scale": (
        "Scaling out: two workers on loopback, VoxCeleb sizing estimates",
        "kerasemo.experiments.bench_scale:measure",
    ),
}


def _section_function(target: str) -> Callable:
    import importlib

    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def _machine() -> str:
    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical cores visible; TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, Python {platform.python_version()}"
    )


def _format_value(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def render_section(key: str, title: str, figures: list[Figure], machine: str, command: str) -> str:
    """Renders one section of the benchmark table as markdown between stable markers."""
    lines = [
        f"<!-- benchmark:{key} -->",
        f"## {title}",
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine}.",
        f"Command: `{command}`. Ratios were measured side by side in that one run; absolute",
        "figures are one-off measurements on that machine.",
        "",
        "| figure | value | unit | goal | met | note |",
        "|---|---:|---|---|---|---|",
    ]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.name} | {_format_value(f.value)} | {f.unit} | {f.goal} | {met} | {f.note} |")
    lines.append(f"<!-- /benchmark:{key} -->")
    return "\n".join(lines)


def update_markdown(path: pathlib.Path, sections: dict[str, str]) -> None:
    """Replaces (or appends) the named sections in the markdown file, keeping the others."""
    header = (
        "# Benchmarks\n\n"
        "Written by `python -m kerasemo.experiments.benchmark`; rerun it to refresh a section "
        "(`--only NAME`).\n"
    )
    text = path.read_text(encoding="utf-8") if path.exists() else header
    for key, body in sections.items():
        pattern = re.compile(
            rf"<!-- benchmark:{re.escape(key)} -->.*?<!-- /benchmark:{re.escape(key)} -->", re.S
        )
        if pattern.search(text):
            text = pattern.sub(lambda _: body, text)
        else:
            text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kerasemo.experiments.benchmark",
        description=__doc__.split("\n\n")[0]
        + " Figures, goals and the machine are written as markdown tables.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {', '.join(SECTIONS)})",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="training batch (default 32)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of short figures")
    parser.add_argument(
        "--reference-clips", type=int, default=4, help="clips timed through the NumPy reference"
    )
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "true", "false"),
        default="auto",
        help="XLA compilation of the training step (Keras' jit_compile; default auto)",
    )
    config_lib.add_config_arguments(parser, default="paper")
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT, help="markdown table to update")
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures as JSON here")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the table as it is")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.experiment = config_lib.config_from_args(args)
    except config_lib.ConfigError as err:
        raise SystemExit(f"error: {err}") from None
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.jit_compile = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    selected = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in selected if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"Unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}.")
    if args.batch_size < 1 or args.steps < 1 or args.repeats < 1:
        raise SystemExit("--batch-size, --steps and --repeats must be >= 1.")

    command = "python -m kerasemo.experiments.benchmark " + " ".join(argv if argv is not None else sys.argv[1:])
    args.shared = {}  # figures measured once and reused by several sections
    machine = _machine()
    rendered, results = {}, {}
    for key in selected:
        title, target = SECTIONS[key]
        figures = _section_function(target)(args)
        results[key] = [dataclasses.asdict(f) for f in figures]
        rendered[key] = render_section(key, title, figures, machine, command.strip())
        print(rendered[key])
    if not args.no_write:
        update_markdown(args.output, rendered)
        print(f"\nupdated {args.output}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "sections": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
