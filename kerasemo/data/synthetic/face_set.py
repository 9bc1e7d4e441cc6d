"""The FERPlus-format face set: 48 x 48 grey faces, FER2013 codes, and ten annotator votes.

Rows (see `annotators.ROW_KINDS`): ordinary faces of the eight emotions (a fifth of the
non-neutral ones blended with a related emotion) at intensities 0.45-1.0; degraded faces
("unknown" votes); not-a-face images (blank, noise, stripes, blobs: "NF" votes, empty image
name); and a few faces whose votes tie three ways. Emotion frequencies follow FERPlus's skew
(neutral and happiness most common), flattened so that the rare classes (disgust, fear,
contempt) still have enough examples to learn from:

| neutral | happiness | surprise | sadness | anger | disgust | fear | contempt |
|---------|-----------|----------|---------|-------|---------|------|----------|
| 0.25    | 0.20      | 0.12     | 0.12    | 0.11  | 0.07    | 0.07 | 0.06     |

Every face has its own identity, pose (shift, scale, in-plane rotation up to 8 degrees),
background, lighting and pixel noise.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

import numpy as np

from kerasemo.data.synthetic import annotators as annotators_lib
from kerasemo.data.synthetic import faces, writers
from kerasemo.data.synthetic.presets import SyntheticPreset
from kerasemo.data.synthetic.seeding import rng_for
from kerasemo.emotions import CLASSES, NUM_CLASSES, class_index
from kerasemo.progress import progress_bar

logger = logging.getLogger(__name__)

FACE_PRIOR = (0.25, 0.20, 0.12, 0.12, 0.11, 0.07, 0.07, 0.06)
"""Share of each emotion (`CLASSES` order) among ordinary face rows."""
IMAGE_SIZE = 48
_BATCH = 256


@dataclasses.dataclass
class FaceSet:
    """What was written, for the ground truth, the contact sheet and the summary."""

    images: np.ndarray  # [N, 48, 48] uint8
    ground_truth: list[dict]
    usage_counts: dict[str, int]


def _nonface_images(rng: np.random.Generator, count: int) -> np.ndarray:
    """Blank frames, noise, stripes and blobs: what FER2013's non-face rows look like."""
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) / IMAGE_SIZE
    out = np.zeros((count, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for i in range(count):
        style = i % 4
        level = rng.uniform(20, 235)
        if style == 0:
            image = np.full_like(xx, level)
        elif style == 1:
            coarse = rng.uniform(0, 255, (6, 6))
            image = np.kron(coarse, np.ones((8, 8))) * 0.7 + 0.3 * rng.uniform(0, 255, xx.shape)
        elif style == 2:
            angle = rng.uniform(0, np.pi)
            freq = rng.uniform(2, 8)
            image = level + 60 * np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy))
        else:
            image = np.full_like(xx, level)
            for _ in range(3):
                cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.35)
                image = np.where((xx - cx) ** 2 + (yy - cy) ** 2 < r * r, rng.uniform(0, 255), image)
        out[i] = image + rng.normal(0, 4, xx.shape)
    return out


def _degrade(rng: np.random.Generator, images: np.ndarray) -> np.ndarray:
    """Makes faces unreadable: heavy blur, low contrast, noise, or a large occluder."""
    out = images.copy()
    for i in range(out.shape[0]):
        if i % 2 == 0:
            small = out[i].reshape(8, 6, 8, 6).mean(axis=(1, 3))
            blurred = np.kron(small, np.ones((6, 6)))
            mean = blurred.mean()
            out[i] = mean + 0.35 * (blurred - mean) + rng.normal(0, 18, blurred.shape)
        else:
            top = rng.integers(4, 16)
            height = min(int(rng.integers(24, 36)), IMAGE_SIZE - int(top))
            out[i, top : top + height, :] = rng.uniform(0, 255) + rng.normal(0, 6, (height, IMAGE_SIZE))
    return out


def generate_face_set(
    folder: pathlib.Path, preset: SyntheticPreset, seed: int, *, progress: bool = False
) -> FaceSet:
    """Renders the faces, simulates the votes and writes ``fer2013.csv`` and ``fer2013new.csv``.

    Args:
        folder: output folder (``<corpus>/ferplus``).
        preset: sizes and rates.
        seed: corpus seed.
        progress: show a progress bar (drawn only on a terminal).

    Returns:
        A `FaceSet` with the images and one ground-truth dict per row.
    """
    n = preset.num_faces
    rng = rng_for(seed, "ferplus", "rows")
    counts = {
        "nonface": max(3, int(round(n * preset.nonface_fraction))),
        "unknown": max(3, int(round(n * preset.unknown_fraction))),
        "tied": max(3, int(round(n * preset.tied_fraction))),
    }
    counts["face"] = n - sum(counts.values())
    kinds = np.concatenate([np.full(c, k) for k, c in counts.items()])
    kinds = kinds[rng.permutation(n)]
    shares = np.asarray(preset.usage_fractions)
    usage_index = np.minimum(np.searchsorted(np.cumsum(shares), (np.arange(n) + 0.5) / n), 2)
    usages = np.asarray(writers.USAGES)[usage_index[rng.permutation(n)]]

    # Latent content: a primary emotion, an optional related blend, an intensity.
    emotion = rng.choice(NUM_CLASSES, size=n, p=FACE_PRIOR)
    intensity = np.where(emotion == 0, 0.0, rng.uniform(0.45, 1.0, n))
    blend = np.full(n, -1)
    blend_weight = np.zeros(n)
    for i in np.flatnonzero((emotion != 0) & (rng.random(n) < preset.face_blend_fraction)):
        related = [class_index(r) for r in annotators_lib.RELATED[CLASSES[emotion[i]]] if r != "neutral"]
        blend[i] = related[0] if rng.random() < 0.7 or len(related) == 1 else related[1]
        blend_weight[i] = rng.uniform(0.2, 0.5)
    tied_classes = np.zeros((n, 4), np.int64)
    for i in np.flatnonzero(kinds == "tied"):
        first = int(rng.integers(1, NUM_CLASSES))
        related = [class_index(r) for r in annotators_lib.RELATED[CLASSES[first]]]
        others = [c for c in range(NUM_CLASSES) if c not in [first] + related[:2]]
        tied_classes[i] = [first, related[0], related[1], rng.choice(others)]
        emotion[i], blend[i], blend_weight[i], intensity[i] = first, related[0], 0.5, 0.8
    mixture = np.zeros((n, NUM_CLASSES))
    perceived_intensity = intensity**0.8
    rows = np.arange(n)
    mixture[rows, emotion] += perceived_intensity * (1 - blend_weight)
    has_blend = blend >= 0
    mixture[rows[has_blend], blend[has_blend]] += perceived_intensity[has_blend] * blend_weight[has_blend]
    mixture[:, 0] += 1.0 - mixture.sum(axis=1)

    # Rendering.
    render_rng = rng_for(seed, "ferplus", "render")
    identities = faces.sample_identities(render_rng, n)
    pose = faces.centred_pose(render_rng, n, size=IMAGE_SIZE)
    background = render_rng.uniform(10.0, 245.0, n)
    gradient = render_rng.uniform(-50.0, 50.0, (n, 2))
    noise_sigma = render_rng.uniform(1.0, 7.0, n).astype(np.float32)
    weights = np.zeros((n, NUM_CLASSES), np.float32)
    weights[rows, emotion] += intensity * (1 - blend_weight)
    weights[rows[has_blend], blend[has_blend]] += intensity[has_blend] * blend_weight[has_blend]
    actions = faces.expression_actions(weights, identities)
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    batches = progress_bar(
        range(0, n, _BATCH), enabled=progress, desc="FERPlus faces", unit="batch", leave=False
    )
    for start in batches:
        part = slice(start, start + _BATCH)
        images[part] = faces.render_faces(
            identities[part], actions[part], pose[part], height=IMAGE_SIZE, width=IMAGE_SIZE,
            background=background[part], background_gradient=gradient[part],
        )
    images += noise_sigma[:, None, None] * render_rng.standard_normal(images.shape, dtype=np.float32)
    degraded = kinds == "unknown"
    images[degraded] = _degrade(render_rng, images[degraded])
    nonface = kinds == "nonface"
    images[nonface] = _nonface_images(render_rng, int(nonface.sum()))
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)

    # Votes and labels.
    crowd = annotators_lib.sample_annotators(rng_for(seed, "ferplus", "annotators"))
    votes = annotators_lib.simulate_votes(
        rng_for(seed, "ferplus", "votes"), mixture, kinds, crowd, tied_classes
    )
    codes = annotators_lib.fer2013_codes(rng_for(seed, "ferplus", "codes"), votes)
    writers.write_ferplus(folder, images, codes, usages, votes, has_face_name=~nonface)

    ground_truth = []
    for i in range(n):
        ground_truth.append(
            {
                "row": i,
                "image_name": "" if nonface[i] else writers.ferplus_image_name(i),
                "usage": usages[i],
                "kind": kinds[i],
                "emotion": CLASSES[emotion[i]] if not nonface[i] else "",
                "intensity": float(intensity[i]) if not nonface[i] else 0.0,
                "blend_emotion": CLASSES[blend[i]] if blend[i] >= 0 and not nonface[i] else "",
                "blend_weight": float(blend_weight[i]) if not nonface[i] else 0.0,
                "fer2013_code": int(codes[i]),
            }
        )
    usage_counts = {u: int((usages == u).sum()) for u in writers.USAGES}
    logger.info("FERPlus set: %d rows (%s); %s.", n, counts, usage_counts)
    return FaceSet(images=images, ground_truth=ground_truth, usage_counts=usage_counts)
