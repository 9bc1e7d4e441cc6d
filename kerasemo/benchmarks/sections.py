"""The benchmark sections: one module per section, registered here by importing it.

Each section module defines ``NAME`` (the key ``--only`` takes and the table's marker),
``TITLE`` (its heading in ``experiments/benchmarks.md``) and ``measure(args) -> list[Figure]``.
`SECTIONS` maps each name to its ``measure`` and `TITLES` to its heading, in the order a full
run measures them (the ``foundation`` section first: it measures the figures others share).

Example:

>>> from kerasemo.benchmarks.sections import SECTIONS, TITLES
>>> list(SECTIONS)[:3]
['foundation', 'synthetic', 'teacher']
>>> TITLES["synthetic"]
'Synthetic corpus generation'
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from kerasemo.benchmarks import (
    beam,
    distill,
    emovoxceleb,
    export,
    foundation,
    probe,
    routes,
    scale,
    student,
    synthetic,
    teacher,
)
from kerasemo.benchmarks.harness import Figure

SECTION_MODULES = (
    foundation, synthetic, teacher, emovoxceleb, probe, export, routes, distill, student, beam, scale
)
"""The section modules, in the order a full run measures them."""

SECTIONS: dict[str, Callable[[argparse.Namespace], list[Figure]]] = {
    module.NAME: module.measure for module in SECTION_MODULES
}
"""Section name -> its ``measure(args)``."""

TITLES: dict[str, str] = {module.NAME: module.TITLE for module in SECTION_MODULES}
"""Section name -> its heading in the benchmark table."""
