"""What every benchmark section shares: figures, timing, memory, the machine's references, the table.

A section is a function ``measure(args) -> list[Figure]`` (`kerasemo.benchmarks.SECTIONS`).
`args` is the benchmark's `argparse.Namespace` (``batch_size``, ``steps``, ``repeats``,
``reference_clips``, ``jit_compile``, ``experiment``: see `kerasemo.benchmarks.cli`); figures
that several sections use are measured once per run and kept in ``args.shared``:

- `machine_conv_throughput`: the machine's conv2d GFLOP/s, the ceiling a model is compared with;
- `student_training_step` / `student_training_throughput`: the paper-size student's training
  step (time, samples/s, FLOPs, peak memory).

Helpers: `time_call` (median wall time), `PeakMemory` (peak resident memory of a block),
`random_student` (a preset's student at random weights), `describe_machine`, and the markdown table: `render_section` writes one section between stable
markers, `update_markdown` replaces those sections in place in a file and keeps the others.

Example:

>>> figure = Figure("answer", 0.5, "ratio", goal=">= 0.4", met=True)
>>> print(render_section("demo", "A demo section", [figure], "a machine", "cmd").splitlines()[-2])
| answer | 0.5000 | ratio | >= 0.4 | yes |  |
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import logging
import os
import pathlib
import platform
import re
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from kerasemo.checks import check_non_negative_int, check_positive_int, check_positive_number

logger = logging.getLogger(__name__)

H100_BF16_DENSE_FLOPS = 989e12
"""NVIDIA H100 SXM dense (no sparsity) bf16 tensor-core peak, FLOP/s."""
H100_UTILISATION = 0.4
"""The fraction of that peak the GPU estimates assume a well-fed training or labelling job gets."""

MARKDOWN_HEADER = (
    "# Benchmarks\n\n"
    "Written by `python -m kerasemo.benchmarks`; rerun it to refresh a section "
    "(`--only NAME`).\n"
)
"""The top of a benchmark table written from scratch (an existing file keeps its own)."""

# Large float32 convolutions (batch, height, width, in channels, out channels, kernel, stride):
# a generic 3x3 layer, and the student's own conv2 and conv3 shapes at batch 32.
REFERENCE_CONVS = (
    (8, 64, 64, 256, 256, 3, 1),
    (32, 126, 99, 96, 256, 5, 2),
    (32, 30, 24, 256, 256, 3, 1),
)


@dataclasses.dataclass
class Figure:
    """One measured figure of a benchmark table: what, value, unit, and the goal it is held to.

    Args:
        name: what was measured (the table's first column; unique within a section).
        value: the measurement, or None when it could not be measured (the note says why).
        unit: its unit (``"s"``, ``"samples/s"``, ``"ratio"``, ...).
        goal: the goal it is held to, as text (``">= 0.4"``), or ``""`` for none.
        met: whether the goal was met; None when there is no goal.
        note: how it was measured (batch, shapes, the figures it was derived from).

    Example:

    >>> Figure("student training throughput", 41.5, "samples/s").met is None
    True
    """

    name: str
    value: float | None
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of `fn` over `repeats` calls, after `warmup` untimed calls.

    Args:
        fn: the call to time (no arguments; its result is discarded).
        repeats: timed calls (>= 1).
        warmup: untimed calls first (tracing, caches; >= 0).

    Returns:
        The median of the timed calls, in seconds.

    Example:

    >>> time_call(lambda: sum(range(1000)), repeats=3) >= 0
    True
    """
    check_positive_int(repeats, "repeats")
    check_non_negative_int(warmup, "warmup")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class PeakMemory:
    """Samples the process's resident set size in a thread; keeps the peak above a baseline.

    The baseline is the resident size when the object is created; `peak` is the largest size
    seen until the ``with`` block ends (sampled every `interval` seconds, and once at the end).
    Needs ``psutil``.

    Args:
        interval: seconds between samples (> 0).

    Example:

    >>> with PeakMemory() as memory:
    ...     block = bytearray(32 * 2**20)
    >>> memory.peak >= memory.baseline
    True
    """

    def __init__(self, interval: float = 0.02):
        import psutil

        self._process = psutil.Process()
        self._interval = check_positive_number(interval, "interval")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.baseline = self.peak = self._process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def _run_cache(args: argparse.Namespace) -> dict:
    """The figures measured once per benchmark run and shared by its sections."""
    return vars(args).setdefault("shared", {})


def conv_throughput(repeats: int) -> tuple[float, str]:
    """The machine's conv2d throughput: best GFLOP/s over `REFERENCE_CONVS` (forward, float32).

    Each convolution runs as one TensorFlow op (oneDNN on x86 CPUs), the fastest path the
    machine offers, so the figure is a ceiling for what a whole model can reach.

    Args:
        repeats: timed calls per convolution (after two warm-up calls).

    Returns:
        (GFLOP/s of the fastest convolution, a note naming its shape).

    Example:

    >>> gflops, note = conv_throughput(repeats=1)  # doctest: +SKIP
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    best, best_shape = 0.0, ""
    for shape in REFERENCE_CONVS:
        batch, height, width, c_in, c_out, kernel, stride = shape
        x = tf.constant(rng.standard_normal((batch, height, width, c_in)), tf.float32)
        w = tf.constant(rng.standard_normal((kernel, kernel, c_in, c_out)) * 0.01, tf.float32)
        conv = tf.function(lambda x=x, w=w, s=stride: tf.nn.conv2d(x, w, s, "SAME"))
        seconds = time_call(lambda: conv().numpy(), repeats, warmup=2)
        out_h, out_w = -(-height // stride), -(-width // stride)
        gflops = 2 * batch * out_h * out_w * c_in * c_out * kernel * kernel / seconds / 1e9
        logger.info("  conv %s: %.1f GFLOP/s", shape, gflops)
        if gflops > best:
            best = gflops
            best_shape = (
                f"best of {len(REFERENCE_CONVS)} convs: {batch}x{height}x{width}x{c_in} -> "
                f"{c_out}, {kernel}x{kernel}/{stride}"
            )
    return best, best_shape


def machine_conv_throughput(args: argparse.Namespace) -> tuple[float, str]:
    """The machine's conv2d GFLOP/s (`conv_throughput`), measured once per benchmark run.

    Args:
        args: the benchmark namespace (``repeats``; the result is kept in ``args.shared``).

    Returns:
        (GFLOP/s, a note naming the convolution).

    Example:

    >>> gflops, note = machine_conv_throughput(argparse.Namespace(repeats=1))  # doctest: +SKIP
    """
    cache = _run_cache(args)
    if "conv" not in cache:
        logger.info("conv2d throughput ...")
        cache["conv"] = conv_throughput(args.repeats)
    return cache["conv"]


@dataclasses.dataclass(frozen=True)
class StudentStep:
    """The paper-size student's training step, as `student_training_step` measured it.

    Args:
        seconds: median seconds per training step.
        samples_per_second: batch size / `seconds`.
        train_flops: FLOPs per training sample (3 x the forward pass's).
        peak_bytes: the process's peak resident size during the timed steps.
        baseline_bytes: its resident size just before them.

    Example:

    >>> StudentStep(0.5, 64.0, 3e9, 2**30, 2**29).samples_per_second
    64.0
    """

    seconds: float
    samples_per_second: float
    train_flops: float
    peak_bytes: int
    baseline_bytes: int


def student_training_step(args: argparse.Namespace) -> StudentStep:
    """Times the student's training step once per benchmark run (shared by the sections).

    The student has ``args.experiment``'s size and takes 512 x 400 spectrograms (VGGVox input);
    it is compiled with SGD and soft cross-entropy (``args.jit_compile``) and timed over
    ``args.steps`` steps of batch ``args.batch_size`` after one warm-up step.

    Args:
        args: the benchmark namespace (the result is kept in ``args.shared``).

    Returns:
        A `StudentStep`.

    Example:

    >>> step = student_training_step(args)  # doctest: +SKIP
    """
    cache = _run_cache(args)
    if "student_step" in cache:
        return cache["student_step"]
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
    with PeakMemory() as memory:
        seconds = time_call(lambda: student.train_on_batch(spectrograms, targets), args.steps, warmup=1)
    train_flops = 3 * count_conv_flops(student, (512, frames))["forward"]
    cache["student_step"] = StudentStep(seconds, batch / seconds, train_flops, memory.peak, memory.baseline)
    return cache["student_step"]


def student_training_throughput(args: argparse.Namespace) -> tuple[float, float]:
    """(samples/s, FLOPs per training sample) of the paper-size student, measured once per run.

    Args:
        args: the benchmark namespace (see `student_training_step`).

    Example:

    >>> samples_per_second, train_flops = student_training_throughput(args)  # doctest: +SKIP
    """
    step = student_training_step(args)
    return step.samples_per_second, step.train_flops


def random_student(experiment: Any) -> tuple[Any, str]:
    """`experiment`'s student in float32 at a seeded random initialisation, and its description.

    What the export sections measure when no trained student is given: the weights do not
    change the speed or the size, but they do change what agreement figures mean.

    Args:
        experiment: a `kerasemo.config.ExperimentConfig` (its ``student``, ``frontend`` and
            ``seed``).

    Returns:
        (a `VGGMStudent`, ``"<preset> preset, <n> parameters, random weights"``).

    Example:

    >>> from kerasemo.config import load_config
    >>> random_student(load_config("demo"))[1]
    'demo preset, 265,384 parameters, random weights'
    """
    import keras

    from kerasemo.models import student_from_config

    keras.utils.set_random_seed(experiment.seed)
    student = student_from_config(experiment, dtype="float32")
    return student, f"{experiment.name} preset, {student.count_params():,} parameters, random weights"


def describe_machine() -> str:
    """The CPU, its visible cores and the TensorFlow, Keras and Python versions, in one line.

    Example:

    >>> "logical cores visible" in describe_machine()  # doctest: +SKIP
    True
    """
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


def format_value(value: float | None) -> str:
    """A figure's value as the table shows it: thousands separators, 2 or 4 decimals, or 2 digits.

    Integers (counts) are shown whole; values below 0.001 (parity figures, real-time factors of
    small models) keep two significant digits in scientific notation, not ``0.0000``.

    Example:

    >>> format_value(12345.6), format_value(3.14159), format_value(0.5), format_value(3.2e-6)
    ('12,346', '3.14', '0.5000', '3.2e-06')
    >>> format_value(0), format_value(8), format_value(None)
    ('0', '8', 'n/a')
    """
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    if abs(value) >= 1e-3:
        return f"{value:.4f}"
    return f"{value:.1e}"


def render_section(key: str, title: str, figures: list[Figure], machine: str, command: str) -> str:
    """One section of the benchmark table as markdown, between stable markers.

    Args:
        key: the section's name (``foundation``); the markers are ``<!-- benchmark:KEY -->``
            and ``<!-- /benchmark:KEY -->``.
        title: the section's heading.
        figures: its rows.
        machine: the machine it was measured on (`describe_machine`).
        command: the command that measured it.

    Returns:
        The markdown text, markers included, without a final newline. A ``|`` inside a cell
        (``max |dp|``) is escaped, so that it does not split the cell.

    Example:

    >>> text = render_section("a", "Section A", [Figure("max |dp|", 2.0, "abs")], "m", "cmd")
    >>> text.splitlines()[0], text.splitlines()[1]
    ('<!-- benchmark:a -->', '## Section A')
    >>> print(text.splitlines()[-2])
    | max \\|dp\\| | 2.00 | abs |  |  |  |
    """
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
        cells = (f.name, format_value(f.value), f.unit, f.goal, met, f.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines.append(f"<!-- /benchmark:{key} -->")
    return "\n".join(lines)


def update_markdown(path: str | os.PathLike, sections: dict[str, str]) -> None:
    """Replaces the named sections of a markdown file in place (or appends them); keeps the rest.

    Args:
        path: the markdown file; created (with `MARKDOWN_HEADER`) if it does not exist.
        sections: section name -> its text from `render_section`.

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "benchmarks.md"
    >>> update_markdown(path, {"a": render_section("a", "A", [], "m", "cmd")})
    >>> path.read_text().count("<!-- benchmark:a -->")
    1
    """
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else MARKDOWN_HEADER
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
