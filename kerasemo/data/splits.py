"""Identity-disjoint train / heard_val / unheard_val splits of speaking tracks.

The paper (Table 3) splits EmoVoxCeleb by identity: Unheard-Val holds identities never seen in
training, Heard-Val holds other tracks of training identities. `assign_splits` does the same,
deterministically from a seed:

1. The identities are sorted and permuted with ``numpy.random.default_rng(seed)``; the first
   ``round(unheard_identity_fraction * n)`` of the permutation (at least 1 and at most
   ``n - 2``) are **unheard**: all their tracks go to ``unheard_val``.
2. The remaining tracks (sorted by track id) are permuted with the same generator and taken in
   that order into ``heard_val`` until ``round(heard_val_fraction * count)`` tracks (at least 1)
   are held out, never taking an identity's last remaining track: every identity with a
   heard_val track keeps at least one train track. Everything else is ``train``.

Because both lists are sorted first, the result depends only on the seed, the fractions and the
set of (identity, track id) pairs, never on the order tracks were found in.

Example:

>>> pairs = [(f"id{i}", f"id{i}/v/{t:05d}") for i in range(10) for t in range(20)]
>>> splits = assign_splits(pairs, seed=0)
>>> sorted(split_counts(splits).items())
[('heard_val', 6), ('train', 154), ('unheard_val', 40)]
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Mapping

import numpy as np

from kerasemo.config import SplitConfig

logger = logging.getLogger(__name__)

SPLITS = ("train", "heard_val", "unheard_val")
"""Split names, as in `kerasemo.data.schema.SPLITS`."""
MIN_IDENTITIES = 3
"""Fewest identities that allow an unheard identity and train identities with heard tracks."""


def assign_splits(
    pairs: Iterable[tuple[str, str]],
    config: SplitConfig | None = None,
    seed: int = 0,
) -> dict[str, str]:
    """Assigns every track to ``train``, ``heard_val`` or ``unheard_val``, identity-disjointly.

    Args:
        pairs: ``(identity, track_id)`` for every track; track ids must be unique.
        config: the fractions (`SplitConfig`; default: the paper's, 0.2 of identities unheard
            and 0.037 of the remaining tracks heard_val).
        seed: seed of the permutations.

    Returns:
        ``{track_id: split}``.

    Raises:
        ValueError: if a track id repeats (with different identities or twice), or if there are
            fewer than 3 identities (an unheard identity and at least two training identities
            are needed for the three splits to make sense).

    Example:

    >>> assign_splits([("a", "a/v/1"), ("b", "b/v/1"), ("c", "c/v/1"), ("c", "c/v/2")], seed=1)
    ... # doctest: +SKIP
    {'a/v/1': 'train', ...}
    """
    config = config or SplitConfig()
    by_identity: dict[str, list[str]] = collections.defaultdict(list)
    owner: dict[str, str] = {}
    for identity, track_id in pairs:
        identity, track_id = str(identity), str(track_id)
        if track_id in owner:
            raise ValueError(
                f"Track id {track_id!r} appears more than once (identities {owner[track_id]!r} "
                f"and {identity!r}); track ids must be unique."
            )
        owner[track_id] = identity
        by_identity[identity].append(track_id)
    identities = sorted(by_identity)
    if len(identities) < MIN_IDENTITIES:
        raise ValueError(
            f"Identity-disjoint splits need at least {MIN_IDENTITIES} identities (one or more "
            f"unheard, the rest for train and heard_val); received {len(identities)} "
            f"({', '.join(identities) or 'none'}). Add tracks of more speakers."
        )
    rng = np.random.default_rng(seed)
    num_unheard = int(round(config.unheard_identity_fraction * len(identities)))
    num_unheard = min(max(num_unheard, 1), len(identities) - 2)
    order = rng.permutation(len(identities))
    unheard = {identities[i] for i in order[:num_unheard]}

    splits: dict[str, str] = {}
    for identity in unheard:
        for track_id in by_identity[identity]:
            splits[track_id] = "unheard_val"

    heard = sorted(t for i in identities if i not in unheard for t in by_identity[i])
    target = max(1, int(round(config.heard_val_fraction * len(heard))))
    remaining = collections.Counter(owner[t] for t in heard)
    taken = 0
    for position in rng.permutation(len(heard)):
        track_id = heard[position]
        identity = owner[track_id]
        if taken < target and remaining[identity] >= 2:
            splits[track_id] = "heard_val"
            remaining[identity] -= 1
            taken += 1
        else:
            splits[track_id] = "train"
    if taken < target:
        logger.warning(
            "Only %d heard_val tracks could be held out (asked for %d): the training identities "
            "have too few tracks to spare one and keep one in train.",
            taken,
            target,
        )
    return {t: splits[t] for t in sorted(splits)}


def split_counts(splits: Mapping[str, str]) -> dict[str, int]:
    """Tracks per split (every split present, possibly 0)."""
    counts = collections.Counter(splits.values())
    return {name: int(counts.get(name, 0)) for name in SPLITS}


def check_identity_disjoint(splits: Mapping[str, str], identity_of: Mapping[str, str]) -> None:
    """Raises ValueError unless unheard identities are absent from train and heard_val, and every
    heard_val identity also has train tracks.

    Args:
        splits: ``{track_id: split}``.
        identity_of: ``{track_id: identity}``.
    """
    identities: dict[str, set[str]] = {name: set() for name in SPLITS}
    for track_id, split in splits.items():
        if split not in identities:
            raise ValueError(f"Track {track_id!r} has unknown split {split!r}.")
        identities[split].add(identity_of[track_id])
    leaked = identities["unheard_val"] & (identities["train"] | identities["heard_val"])
    if leaked:
        raise ValueError(f"Unheard identities also appear in train/heard_val: {sorted(leaked)}.")
    unseen = identities["heard_val"] - identities["train"]
    if unseen:
        raise ValueError(f"heard_val identities with no train track: {sorted(unseen)}.")
