"""Simulated FERPlus annotators: ten votes per image over 8 emotions, "unknown" and "NF".

FERPlus had every FER2013 image re-tagged by 10 crowd workers; their votes are a distribution,
not one label. Here a face's latent content is a **mixture** over the eight emotions (one
emotion at some intensity, or a blend of two related ones; the rest is neutral). Each of the 10
simulated annotators (`Annotator`) perceives that mixture through a shared confusion matrix
(`CONFUSION`: surprise <-> fear, anger <-> disgust, sadness -> neutral, contempt -> neutral, ...),
sharpens or flattens it (confidence), tilts it by a personal preference, lapses now and then
(a uniform guess), and votes once.

Row kinds (`ROW_KINDS`) give the FERPlus cleaning rules something to act on:

- ``face``: an ordinary face (most rows).
- ``unknown``: a face too degraded to read: most votes go to "unknown".
- ``nonface``: not a face at all (blank, texture, shapes): most votes go to "NF"; its FERPlus
  image name is empty.
- ``tied``: a face so ambiguous that the votes split 3/3/3/1 over four emotions (three tied
  maxima).

Ordinary rows produce the other cases naturally: single outlier votes (zeroed by the cleaning),
and splits like 4/3/3 where the maximum holds no more than half the votes.

Example:

>>> from kerasemo.data.synthetic.seeding import rng_for
>>> annotators = sample_annotators(rng_for(0, "a"))
>>> mixture = np.zeros((1, 8)); mixture[0, 1] = 1.0  # clear happiness
>>> votes = simulate_votes(rng_for(0, "v"), mixture, np.array(["face"]), annotators)
>>> int(votes.sum()), votes.shape
(10, (1, 10))
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kerasemo.emotions import CLASSES, NUM_CLASSES, class_index

NUM_ANNOTATORS = 10
VOTE_COLUMNS: tuple[str, ...] = CLASSES + ("unknown", "NF")
"""The vote columns of ``fer2013new.csv``, in file order."""
ROW_KINDS = ("face", "unknown", "nonface", "tied")

_UNKNOWN = len(CLASSES)
_NF = _UNKNOWN + 1

# Related emotions: how often a clear face of the row's emotion is perceived as the column's
# (before normalising each row; the diagonal is 1).
_CONFUSIONS = {
    "neutral": {"sadness": 0.06, "contempt": 0.05, "happiness": 0.02, "anger": 0.02},
    "happiness": {"neutral": 0.05, "surprise": 0.03, "contempt": 0.03},
    "surprise": {"fear": 0.15, "happiness": 0.04, "neutral": 0.02},
    "sadness": {"neutral": 0.12, "fear": 0.05, "disgust": 0.04, "anger": 0.03, "contempt": 0.02},
    "anger": {"disgust": 0.15, "sadness": 0.04, "contempt": 0.04, "neutral": 0.03},
    "disgust": {"anger": 0.25, "sadness": 0.05, "contempt": 0.05},
    "fear": {"surprise": 0.3, "sadness": 0.1, "neutral": 0.02},
    "contempt": {"neutral": 0.3, "happiness": 0.1, "disgust": 0.1},
}


def _confusion_matrix() -> np.ndarray:
    matrix = np.eye(NUM_CLASSES)
    for true, row in _CONFUSIONS.items():
        for perceived, weight in row.items():
            matrix[class_index(true), class_index(perceived)] = weight
    return matrix / matrix.sum(axis=1, keepdims=True)


CONFUSION = _confusion_matrix()
"""[8, 8] row-stochastic: true emotion (row) -> perceived emotion (column), `CLASSES` order."""

RELATED: dict[str, tuple[str, ...]] = {
    name: tuple(sorted(_CONFUSIONS[name], key=lambda other: -_CONFUSIONS[name][other]))
    for name in CLASSES
}
"""For each emotion, the emotions it is most often confused with (most confusable first)."""


@dataclasses.dataclass(frozen=True)
class Annotator:
    """One simulated crowd worker.

    Args:
        sharpness: exponent on the perceived distribution (> 1: votes for the mode more).
        preference: per-emotion multiplicative bias (e.g. calls "neutral" more often).
        lapse: probability of a random guess over the 8 emotions.
        unknown_rate: probability of answering "unknown" on an ordinary face.
    """

    sharpness: float
    preference: tuple[float, ...]
    lapse: float
    unknown_rate: float


def sample_annotators(rng: np.random.Generator, count: int = NUM_ANNOTATORS) -> tuple[Annotator, ...]:
    """Draws the crowd.

    Args:
        rng: random stream.
        count: annotators (10 in FERPlus).

    Returns:
        A tuple of `Annotator`.
    """
    return tuple(
        Annotator(
            sharpness=float(rng.uniform(0.8, 1.6)),
            preference=tuple(float(x) for x in np.exp(rng.normal(0.0, 0.25, NUM_CLASSES))),
            lapse=float(rng.uniform(0.01, 0.06)),
            unknown_rate=float(rng.uniform(0.0, 0.03)),
        )
        for _ in range(count)
    )


def perceived(mixture: np.ndarray) -> np.ndarray:
    """What a typical annotator perceives: ``mixture @ CONFUSION``, ``[B, 8]``."""
    return np.asarray(mixture, np.float64) @ CONFUSION


def simulate_votes(
    rng: np.random.Generator,
    mixture: np.ndarray,
    kinds: np.ndarray,
    annotators: tuple[Annotator, ...],
    tied_classes: np.ndarray | None = None,
) -> np.ndarray:
    """Votes of the crowd for each row.

    Args:
        rng: random stream.
        mixture: ``[B, 8]`` latent content of each image (rows sum to 1).
        kinds: ``[B]`` row kinds from `ROW_KINDS`.
        annotators: the crowd (one vote each).
        tied_classes: ``[B, 4]`` class indices for ``tied`` rows (3, 3, 3 and 1 votes).

    Returns:
        int64 ``[B, 10]`` votes in `VOTE_COLUMNS` order; each row sums to ``len(annotators)``.

    Raises:
        ValueError: for unknown kinds, or tied rows without `tied_classes`.
    """
    mixture = np.asarray(mixture, np.float64)
    kinds = np.asarray(kinds)
    unknown_kinds = set(np.unique(kinds)) - set(ROW_KINDS)
    if unknown_kinds:
        raise ValueError(f"Unknown row kinds {sorted(unknown_kinds)}; expected {ROW_KINDS}.")
    batch = mixture.shape[0]
    base = perceived(mixture)
    votes = np.zeros((batch, len(VOTE_COLUMNS)), np.int64)
    for annotator in annotators:
        p = base ** annotator.sharpness * np.asarray(annotator.preference)
        p /= p.sum(axis=1, keepdims=True)
        p = (1 - annotator.lapse) * p + annotator.lapse / NUM_CLASSES
        full = np.zeros((batch, len(VOTE_COLUMNS)))
        full[:, :NUM_CLASSES] = p * (1 - annotator.unknown_rate - 0.002)
        full[:, _UNKNOWN] = annotator.unknown_rate
        full[:, _NF] = 0.002
        degraded = kinds == "unknown"
        full[degraded] = 0.4 * full[degraded]
        full[degraded, _UNKNOWN] += 0.6
        nonface = kinds == "nonface"
        full[nonface] = 0.0
        full[nonface, _NF] = 0.88
        full[nonface, _UNKNOWN] = 0.08
        full[nonface, 0] = 0.04
        cumulative = np.cumsum(full, axis=1)
        draw = rng.random(batch)[:, None] * cumulative[:, -1:]
        choice = np.minimum((draw >= cumulative).sum(axis=1), len(VOTE_COLUMNS) - 1)
        votes[np.arange(batch), choice] += 1
    tied = kinds == "tied"
    if tied.any():
        if tied_classes is None:
            raise ValueError("simulate_votes: 'tied' rows need tied_classes ([B, 4] class indices).")
        total = len(annotators)
        votes[tied] = 0
        rows = np.flatnonzero(tied)
        for column, count in zip(range(4), (3, 3, 3, total - 9)):
            np.add.at(votes, (rows, tied_classes[rows, column]), count)
    return votes


_FER2013_CODES = {
    "anger": 0, "disgust": 1, "fear": 2, "happiness": 3, "sadness": 4, "surprise": 5, "neutral": 6,
}


def fer2013_codes(rng: np.random.Generator, votes: np.ndarray) -> np.ndarray:
    """The ``emotion`` column of ``fer2013.csv`` (7 classes, FER2013 coding) for each row.

    FER2013 predates FERPlus and has no contempt, unknown or not-a-face label. The code written
    is the majority among the **seven FER2013 emotions' votes** (contempt, unknown and NF votes
    are ignored; ties go to the emotion listed first in `kerasemo.emotions.CLASSES`). So a
    contempt face gets the emotion the annotators named most besides contempt, usually neutral,
    happiness or disgust, which is what a labeller with no contempt option would have picked.
    A row without any such vote (a not-a-face image) gets a random code, as FER2013's own
    non-face images carry arbitrary labels.

    Args:
        rng: random stream (for rows without emotion votes).
        votes: ``[B, 10]`` votes in `VOTE_COLUMNS` order.

    Returns:
        int64 ``[B]`` codes 0..6 (0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral).
    """
    seven = [c for c in CLASSES if c in _FER2013_CODES]
    columns = [VOTE_COLUMNS.index(c) for c in seven]
    counts = np.asarray(votes)[:, columns]
    best = np.argmax(counts, axis=1)
    codes = np.array([_FER2013_CODES[seven[i]] for i in best], np.int64)
    empty = counts.sum(axis=1) == 0
    codes[empty] = rng.integers(0, 7, int(empty.sum()))
    return codes
