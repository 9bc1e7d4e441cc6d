"""Cross-validation folds of the probe: the authors' random folds and speaker-independent ones.

Two protocols:

- ``random10``: the authors' folds (``run_cross_val.m``): a random permutation of the clips
  (seed 0) cut into 10 contiguous chunks at ``round(linspace(0, N, 11))``; not stratified and not
  speaker-independent (the same speaker appears in training and test folds). The permutation
  comes from NumPy's ``default_rng(seed)``, not MATLAB's ``rng(0); randperm``, so the folds are
  the same scheme, not the same clips.
- ``speaker``: speaker-independent folds (`sklearn.model_selection.GroupKFold`, no shuffling:
  deterministic, balanced by size) with ``min(folds, speakers)`` folds; with fewer speakers than
  folds that is leave-one-speaker-out. The protocol users should trust for unseen speakers.

Example:

>>> plan = make_folds("random10", 25, folds=10)
>>> plan.num_folds, sum(len(test) for test in plan.test_folds)
(10, 25)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from kerasemo.checks import check_non_negative_int

PROTOCOLS: tuple[str, ...] = ("random10", "speaker")


@dataclasses.dataclass(frozen=True)
class FoldPlan:
    """Test-index sets of one cross-validation protocol over N clips.

    Args:
        protocol: ``"random10"`` or ``"speaker"``.
        test_folds: one sorted int array of clip indices per fold; they partition ``0..N-1``.
        description: how the folds were made (for tables).

    Example:

    >>> plan = FoldPlan("random10", (np.array([0, 2]), np.array([1, 3])), "two folds")
    >>> [test.tolist() for _, test in plan.splits(4)], plan.fold_of(4).tolist()
    ([[0, 2], [1, 3]], [0, 1, 0, 1])
    """

    protocol: str
    test_folds: tuple[np.ndarray, ...]
    description: str

    @property
    def num_folds(self) -> int:
        """How many folds the plan holds."""
        return len(self.test_folds)

    def splits(self, num_samples: int):
        """Yields ``(train_indices, test_indices)`` per fold."""
        everything = np.arange(num_samples)
        for test in self.test_folds:
            mask = np.ones(num_samples, bool)
            mask[test] = False
            yield everything[mask], test

    def fold_of(self, num_samples: int) -> np.ndarray:
        """`[N]` fold number (0-based) of each clip's test fold."""
        fold = np.full(num_samples, -1, np.int64)
        for number, test in enumerate(self.test_folds):
            fold[test] = number
        return fold


def _matlab_round(values) -> np.ndarray:
    """MATLAB's ``round``: halves away from zero (NumPy rounds halves to even)."""
    values = np.asarray(values, np.float64)
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


def random_folds(num_samples: int, folds: int = 10, seed: int = 0) -> FoldPlan:
    """The authors' random folds over clips: contiguous chunks of a seeded permutation.

    Args:
        num_samples: N clips.
        folds: number of folds (10 in the paper).
        seed: permutation seed (0 in the paper).

    Returns:
        A `FoldPlan` whose fold ``i`` holds ``perm[round(i N / k) : round((i + 1) N / k)]``.

    Raises:
        ValueError: if ``folds < 2`` or ``num_samples < folds``.

    Example:

    >>> [len(t) for t in random_folds(25, folds=10).test_folds]
    [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2; received {folds}.")
    if num_samples < folds:
        raise ValueError(
            f"{num_samples} clips cannot be split into {folds} folds; use fewer folds "
            "(--folds / evaluation.probe_folds)."
        )
    check_non_negative_int(seed, "seed")
    permutation = np.random.default_rng(seed).permutation(num_samples)
    bounds = _matlab_round(np.linspace(0, num_samples, folds + 1))
    tests = tuple(np.sort(permutation[bounds[i] : bounds[i + 1]]) for i in range(folds))
    return FoldPlan(
        "random10",
        tests,
        f"{folds} random folds over clips (permutation seed {seed}, contiguous chunks as in the "
        "authors' run_cross_val.m; speakers shared between train and test)",
    )


def speaker_folds(speakers: Sequence, folds: int = 10) -> FoldPlan:
    """Speaker-independent folds: `GroupKFold` with ``min(folds, number of speakers)`` folds.

    Args:
        speakers: `[N]` speaker of each clip (no None).
        folds: requested number of folds; fewer speakers than that gives leave-one-speaker-out.

    Returns:
        A `FoldPlan` in which no speaker appears in more than one fold.

    Raises:
        ValueError: if a speaker is missing or there are fewer than 2 speakers.

    Example:

    >>> plan = speaker_folds(["a", "a", "b", "c", "c", "d"], folds=10)
    >>> plan.num_folds
    4
    """
    from sklearn.model_selection import GroupKFold

    speakers = np.asarray([None if s is None else str(s) for s in speakers], dtype=object)
    if any(s is None or s == "" or s == "nan" for s in speakers):
        raise ValueError(
            "The speaker protocol needs a speaker for every clip; some are missing (a CSV "
            "manifest needs a 'speaker' column). Use --protocol random10 instead."
        )
    unique = sorted(set(speakers))
    if len(unique) < 2:
        raise ValueError(
            f"The speaker protocol needs at least 2 speakers; found {len(unique)} "
            f"({unique}). Check that --root points at the folder holding one folder per speaker."
        )
    k = min(folds, len(unique))
    codes = np.array([unique.index(s) for s in speakers])
    splitter = GroupKFold(n_splits=k)
    tests = tuple(
        np.sort(test) for _, test in splitter.split(np.zeros(len(codes)), groups=codes)
    )
    if k < folds:
        description = f"leave-one-speaker-out ({k} speakers < {folds} folds)"
    else:
        description = f"{k} speaker-independent folds (GroupKFold over {len(unique)} speakers)"
    return FoldPlan("speaker", tests, description)


def make_folds(
    protocol: str, num_samples: int, *, folds: int = 10, seed: int = 0, speakers=None
) -> FoldPlan:
    """Builds the folds of a named protocol (``"random10"`` or ``"speaker"``).

    Args:
        protocol: one of `PROTOCOLS`.
        num_samples: N clips.
        folds: requested folds (`random_folds`, `speaker_folds`).
        seed: permutation seed of ``random10``.
        speakers: `[N]` speakers (needed by ``speaker``).

    Raises:
        ValueError: for an unknown protocol, or what `random_folds`/`speaker_folds` raise.

    Example:

    >>> make_folds("speaker", 4, speakers=["a", "a", "b", "b"]).num_folds
    2
    """
    if protocol == "random10":
        return random_folds(num_samples, folds, seed)
    if protocol == "speaker":
        if speakers is None:
            raise ValueError("The speaker protocol needs the clips' speakers.")
        return speaker_folds(speakers, folds)
    raise ValueError(f"Unknown protocol {protocol!r}; expected one of {PROTOCOLS}.")


def normalise_protocols(protocol) -> tuple[str, ...]:
    """The protocols to run, in order (the first is the primary one), without repeats.

    Args:
        protocol: ``"random10"``, ``"speaker"``, ``"both"`` / None (both, random10 first) or a
            sequence of names.

    Raises:
        ValueError: for an unknown name or an empty sequence.

    Example:

    >>> normalise_protocols("both"), normalise_protocols(["speaker", "random10", "speaker"])
    (('random10', 'speaker'), ('speaker', 'random10'))
    """
    if protocol in (None, "both"):
        return PROTOCOLS
    if isinstance(protocol, str):
        protocol = (protocol,)
    protocols = tuple(dict.fromkeys(protocol))
    for name in protocols:
        if name not in PROTOCOLS:
            raise ValueError(f"Unknown protocol {name!r}; expected one of {PROTOCOLS} or 'both'.")
    if not protocols:
        raise ValueError("At least one protocol is needed.")
    return protocols
