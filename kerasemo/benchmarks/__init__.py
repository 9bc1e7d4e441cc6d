"""kerasemo's benchmarks: one module per section of ``experiments/benchmarks.md``, and their harness.

``python -m kerasemo.benchmarks [--only SECTION ...]`` measures the sections and updates the
table (`kerasemo.benchmarks.cli`). Modules:

- `harness`: what the sections share: `Figure`, `time_call`, `PeakMemory`, the machine's conv
  reference (`machine_conv_throughput`), a preset's student at random weights
  (`random_student`), the paper-size student's training step
  (`student_training_step`, `student_training_throughput`), the H100 constants of the GPU
  estimates, and the markdown table (`render_section`, `update_markdown`);
- `random_shards`: random EmoVoxCeleb-style shards and the input pipeline's speed on them;
- one module per section, each with ``NAME``, ``TITLE`` and ``measure(args)``: `foundation`,
  `synthetic`, `teacher`, `emovoxceleb`, `probe`, `export`, `routes`, `distill`, `student`,
  `beam`, `scale` (whose training processes run `scale_worker`);
- `sections`: the registry, `SECTIONS` (name -> ``measure``) and `TITLES` (name -> heading).

Example:

>>> from kerasemo.benchmarks import SECTIONS, Figure, render_section
>>> "foundation" in SECTIONS
True
>>> render_section("x", "X", [Figure("f", 1.5, "s")], "m", "cmd").count("| f | 1.50 | s |")
1
"""

from kerasemo.benchmarks.harness import (
    H100_BF16_DENSE_FLOPS,
    H100_UTILISATION,
    Figure,
    PeakMemory,
    StudentStep,
    describe_machine,
    machine_conv_throughput,
    random_student,
    render_section,
    student_training_step,
    student_training_throughput,
    time_call,
    update_markdown,
)
from kerasemo.benchmarks.sections import SECTION_MODULES, SECTIONS, TITLES

__all__ = [
    "H100_BF16_DENSE_FLOPS",
    "H100_UTILISATION",
    "SECTIONS",
    "SECTION_MODULES",
    "TITLES",
    "Figure",
    "PeakMemory",
    "StudentStep",
    "describe_machine",
    "machine_conv_throughput",
    "random_student",
    "render_section",
    "student_training_step",
    "student_training_throughput",
    "time_call",
    "update_markdown",
]
