"""Counts of what a reader left out, by reason, with a few example paths per reason.

The acted-speech readers (`kerasemo.data.acted.SkipReport`) and the VoxCeleb scanner
(`kerasemo.data.voxceleb.ScanReport`) both report this way; they share the bookkeeping here and
differ only in what they say about it.

Example:

>>> log = ReasonLog(examples_per_reason=2)
>>> for name in ("a.wav", "b.wav", "c.wav"):
...     log.record(log.counts, "unreadable", name)
>>> log.counts["unreadable"], log.examples["unreadable"]
(3, ['a.wav', 'b.wav'])
"""

from __future__ import annotations

import collections
import dataclasses


@dataclasses.dataclass(kw_only=True)
class ReasonLog:
    """Reason -> count, and reason -> the first few example items.

    Its fields are keyword-only, so a subclass's own fields come first in its constructor.

    Args:
        counts: reason -> number of items left out for it.
        examples: reason -> up to `examples_per_reason` example strings.
        examples_per_reason: how many examples to keep per reason.
    """

    counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    examples_per_reason: int = dataclasses.field(default=5, repr=False, compare=False)

    def record(self, counter: collections.Counter, reason: str, item: str) -> None:
        """Counts one `item` under `reason` in `counter` and keeps it as an example if room."""
        counter[reason] += 1
        self.keep_example(reason, item)

    def keep_example(self, reason: str, item: str) -> None:
        """Keeps `item` as an example of `reason` unless that reason has enough already."""
        items = self.examples.setdefault(reason, [])
        if len(items) < self.examples_per_reason:
            items.append(str(item))

    def merge_from(self, other: "ReasonLog") -> None:
        """Adds another log's counts and examples to this one."""
        for reason, count in other.counts.items():
            self.counts[reason] += count
            for item in other.examples.get(reason, []):
                self.keep_example(reason, item)

    @property
    def total(self) -> int:
        """Number of items counted for any reason."""
        return int(sum(self.counts.values()))

    def sorted_examples(self) -> dict[str, list[str]]:
        """Examples as a plain dict sorted by reason (JSON-ready)."""
        return {k: list(v) for k, v in sorted(self.examples.items())}
