"""Busy time per build stage, summed over threads (`StageTimer`).

Example:

>>> timer = StageTimer()
>>> with timer.time("crop"):
...     pass
>>> sorted(timer.seconds) == sorted(STAGES), timer.seconds["crop"] >= 0
(True, True)
"""

from __future__ import annotations

import contextlib
import threading
import time

STAGES = ("decode_audio", "decode_frames", "crop", "teacher", "frontend", "write")
"""Stages whose busy time is measured (seconds summed over threads)."""


class StageTimer:
    """Thread-safe busy-time accumulator per stage (`STAGES`).

    Attributes:
        seconds: ``{stage: busy seconds}``.
    """

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def time(self, stage: str):
        """A context manager adding the time spent inside it to `stage`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.seconds[stage] += elapsed
