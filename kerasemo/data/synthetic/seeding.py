"""Stateless, order-independent random streams for the synthetic corpus.

Every item of the corpus (a face, an identity, a track, an acted clip) draws from its own
`numpy.random.Generator`, keyed by the corpus seed and a path of names and numbers. The stream
of one item therefore does not depend on how many items were generated before it, on the order
in which they are generated, or on a preset's other sizes: growing a preset keeps the first
items' content, and a parallel generator would produce the same bytes.

Example:

>>> a = rng_for(0, "voxceleb", "identity", 3).uniform()
>>> b = rng_for(0, "voxceleb", "identity", 3).uniform()
>>> a == b
True
"""

from __future__ import annotations

import zlib

import numpy as np


def _key_to_int(key) -> int:
    if isinstance(key, (bool, np.bool_)):
        raise TypeError(f"rng_for keys must be str or int, not bool; received {key!r}.")
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"rng_for integer keys must be >= 0; received {key!r}.")
        return int(key)
    if isinstance(key, str):
        # crc32 is stable across processes and Python versions (unlike hash()).
        return zlib.crc32(key.encode("utf-8")) + (1 << 32)
    raise TypeError(f"rng_for keys must be str or int; received {key!r} of type {type(key).__name__}.")


def rng_for(seed: int, *keys) -> np.random.Generator:
    """Returns the random stream of one corpus item.

    Args:
        seed: the corpus seed (a non-negative integer).
        *keys: names (str) and indices (non-negative int) that identify the item, e.g.
            ``("ferplus", "faces")`` or ``("voxceleb", "track", 12)``.

    Returns:
        A `numpy.random.Generator` (PCG64) seeded from ``(seed, *keys)``.

    Raises:
        ValueError: for a negative seed or index.
        TypeError: for a key that is neither str nor int.

    Example:

    >>> rng_for(1, "faces").integers(0, 10, size=3).shape
    (3,)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; received {seed!r}.")
    entropy = [int(seed)] + [_key_to_int(k) for k in keys]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
