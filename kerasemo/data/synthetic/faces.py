"""A procedural, vectorised face renderer with eight expressions.

A face is drawn in a canonical frame (face half-height = 1, origin between the cheeks, v
pointing down) on a 64 x 64 grid, as grey level plus coverage, from signed distances with a
one-pixel linear edge (anti-aliasing). Each feature is evaluated only inside its window of the
canonical grid, for a whole batch at once. The canonical image is then warped once (bilinear,
premultiplied alpha) onto the output canvas with the face's pose (centre, scale, in-plane
rotation) over a background with a lighting gradient. Noise is the caller's job.

**Expressions** are 12 continuous actions (loosely after FACS action units); an emotion at
intensity ``w`` adds ``w`` times its row of `EXPRESSIONS` to the identity's resting face:

| emotion   | brows                             | eyes            | nose / cheeks          | mouth                                   |
|-----------|-----------------------------------|-----------------|------------------------|-----------------------------------------|
| neutral   | rest                              | rest            | rest                   | closed, straight                        |
| happiness | slightly raised                   | narrowed        | cheeks raised, folds   | corners up, wider, teeth showing        |
| surprise  | raised high, forehead lines       | wide open       | -                      | dropped open, round (narrow)            |
| sadness   | inner ends up, slightly knitted   | narrowed        | -                      | corners down, lips pressed              |
| anger     | lowered, inner ends down, knitted | glaring         | -                      | lips pressed thin, narrow, corners down |
| disgust   | lowered, knitted                  | narrowed        | nose wrinkled, folds   | upper lip raised, corners down          |
| fear      | raised, inner ends up, knitted    | wide open       | -                      | stretched sideways, slightly open       |
| contempt  | rest                              | slightly narrow | -                      | one corner raised, lips pressed         |

**Identity** (`sample_identities`) varies face width and height, jaw, skin and hair tone,
hairline and hair length (some bald), eye position, size and iris tone, brow height, thickness
and arch, nose length, mouth position, width and lip thickness, glasses, lighting direction, and
a small resting expression (some people look a little sad or stern at rest).

Example:

>>> from kerasemo.data.synthetic.seeding import rng_for
>>> rng = rng_for(0, "doc")
>>> identities = sample_identities(rng, 2)
>>> actions = expression_actions(np.eye(8, dtype=np.float32)[[1, 4]])
>>> pose = centred_pose(rng, 2, size=48)
>>> images = render_faces(identities, actions, pose, height=48, width=48, background=np.full(2, 90.0))
>>> images.shape, images.dtype
((2, 48, 48), dtype('float32'))
"""

from __future__ import annotations

import numpy as np

from kerasemo.emotions import CLASSES

ACTIONS: tuple[str, ...] = (
    "brow_raise",  # whole brow up (+) or down (-)
    "brow_inner",  # inner ends up (+, sad/fear) or down (-, anger)
    "brow_knit",  # brows drawn together
    "eye_open",  # lid aperture (+ wide, - narrowed)
    "cheek_raise",  # cheeks up (narrows eyes from below, deepens folds)
    "nose_wrinkle",
    "upper_lip_raise",
    "mouth_curve",  # corners up (+) or down (-)
    "mouth_open",  # jaw drop
    "mouth_stretch",  # wider (+) or narrower/rounder (-)
    "lip_press",  # thinner lips
    "smile_asym",  # one corner raised (contempt)
)
NUM_ACTIONS = len(ACTIONS)

EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happiness": {
        "brow_raise": 0.15, "eye_open": -0.4, "cheek_raise": 1.0, "mouth_curve": 1.0,
        "mouth_stretch": 0.5, "mouth_open": 0.6,
    },
    "surprise": {"brow_raise": 1.0, "eye_open": 1.0, "mouth_open": 1.0, "mouth_stretch": -0.5},
    "sadness": {
        "brow_inner": 1.0, "brow_knit": 0.35, "brow_raise": -0.05, "eye_open": -0.4,
        "mouth_curve": -0.9, "lip_press": 0.3, "mouth_stretch": -0.1,
    },
    "anger": {
        "brow_raise": -0.7, "brow_inner": -1.0, "brow_knit": 1.0, "eye_open": 0.15,
        "lip_press": 1.0, "mouth_curve": -0.35, "mouth_stretch": -0.25,
    },
    "disgust": {
        "nose_wrinkle": 1.0, "upper_lip_raise": 1.0, "brow_raise": -0.5, "brow_knit": 0.5,
        "eye_open": -0.5, "mouth_curve": -0.5, "cheek_raise": 0.3,
    },
    "fear": {
        "brow_raise": 0.7, "brow_inner": 0.8, "brow_knit": 0.8, "eye_open": 1.0,
        "mouth_stretch": 0.9, "mouth_open": 0.45, "mouth_curve": -0.2,
    },
    "contempt": {"smile_asym": 1.0, "eye_open": -0.15, "lip_press": 0.4, "brow_raise": 0.05},
}
"""Emotion -> action displacement at full intensity (see the module table)."""

EXPRESSION_MATRIX = np.array(
    [[EXPRESSIONS[name].get(action, 0.0) for action in ACTIONS] for name in CLASSES], np.float32
)
"""[8, NUM_ACTIONS] in `kerasemo.emotions.CLASSES` order."""

IDENTITY_DTYPE = np.dtype(
    [
        ("face_width", "f4"), ("face_height", "f4"), ("jaw", "f4"), ("skin", "f4"),
        ("hair_tone", "f4"), ("hairline", "f4"), ("hair_length", "f4"), ("bald", "f4"),
        ("eye_x", "f4"), ("eye_y", "f4"), ("eye_width", "f4"), ("iris_tone", "f4"),
        ("brow_gap", "f4"), ("brow_thickness", "f4"), ("brow_arch", "f4"), ("brow_tone", "f4"),
        ("nose_length", "f4"), ("mouth_y", "f4"), ("mouth_width", "f4"), ("lip_thickness", "f4"),
        ("glasses", "f4"), ("light_x", "f4"), ("light_y", "f4"),
        ("resting", "f4", (NUM_ACTIONS,)),
    ]
)
"""Structured dtype of one face identity (`sample_identities` returns arrays of it)."""

POSE_DTYPE = np.dtype(
    [("cx", "f4"), ("cy", "f4"), ("scale", "f4"), ("angle", "f4"), ("side", "f4")]
)
"""Placement on the output canvas: centre (pixels), pixels per face unit, in-plane rotation
(radians), and the side (+1/-1) of one-sided actions (contempt's raised corner)."""

_GRID = 64
_EXTENT = 1.35  # the canonical grid spans [-_EXTENT, _EXTENT] in both axes
_STEP = 2 * _EXTENT / (_GRID - 1)
_AA = 1.1 * _STEP
_AXIS = np.linspace(-_EXTENT, _EXTENT, _GRID).astype(np.float32)


def sample_identities(rng: np.random.Generator, count: int) -> np.ndarray:
    """Draws `count` face identities.

    Args:
        rng: random stream.
        count: number of identities.

    Returns:
        A structured array of `IDENTITY_DTYPE`, shape ``[count]``.

    Example:

    >>> from kerasemo.data.synthetic.seeding import rng_for
    >>> sample_identities(rng_for(0, "i"), 3)["skin"].shape
    (3,)
    """
    ids = np.zeros(count, IDENTITY_DTYPE)
    u = lambda low, high: rng.uniform(low, high, count)  # noqa: E731
    ids["face_width"] = u(0.68, 0.84)
    ids["face_height"] = u(0.98, 1.1)
    ids["jaw"] = u(0.1, 0.4)
    ids["skin"] = u(95.0, 215.0)
    light_hair = rng.random(count) < 0.2
    ids["hair_tone"] = np.where(light_hair, u(120.0, 185.0), u(12.0, 70.0))
    ids["hairline"] = np.where(rng.random(count) < 0.3, u(-0.62, -0.48), u(-0.98, -0.68))
    ids["hair_length"] = np.where(rng.random(count) < 0.4, u(0.3, 1.1), u(-0.3, 0.1))
    ids["bald"] = (rng.random(count) < 0.08).astype(np.float32)
    ids["eye_x"] = u(0.27, 0.34)
    ids["eye_y"] = u(-0.2, -0.08)
    ids["eye_width"] = u(0.11, 0.145)
    ids["iris_tone"] = u(25.0, 110.0)
    ids["brow_gap"] = u(0.16, 0.23)
    ids["brow_thickness"] = u(0.03, 0.055)
    ids["brow_arch"] = u(0.0, 0.05)
    ids["brow_tone"] = np.minimum(ids["hair_tone"] * u(0.7, 1.0), ids["skin"] - 40.0)
    ids["nose_length"] = u(0.28, 0.36)
    ids["mouth_y"] = u(0.46, 0.56)
    ids["mouth_width"] = u(0.22, 0.3)
    ids["lip_thickness"] = u(0.035, 0.06)
    ids["glasses"] = (rng.random(count) < 0.12).astype(np.float32)
    ids["light_x"] = u(-1.0, 1.0)
    ids["light_y"] = u(-1.0, 0.3)
    resting = rng.normal(0.0, 0.12, (count, NUM_ACTIONS)).astype(np.float32)
    resting[:, ACTIONS.index("smile_asym")] = 0.0
    ids["resting"] = resting
    return ids


def expression_actions(weights: np.ndarray, identities: np.ndarray | None = None) -> np.ndarray:
    """Emotion weights ``[B, 8]`` (neutral column ignored) -> actions ``[B, NUM_ACTIONS]``.

    Args:
        weights: per-face intensity of each emotion, `CLASSES` order.
        identities: optional identities whose resting expression is added.

    Returns:
        float32 ``[B, NUM_ACTIONS]``.
    """
    weights = np.asarray(weights, np.float32).copy()
    weights[:, 0] = 0.0
    actions = weights @ EXPRESSION_MATRIX
    if identities is not None:
        actions = actions + identities["resting"]
    return actions.astype(np.float32)


def centred_pose(
    rng: np.random.Generator,
    count: int,
    *,
    size: int,
    scale: tuple[float, float] = (0.42, 0.5),
    shift: float = 0.04,
    angle_degrees: float = 8.0,
) -> np.ndarray:
    """Poses of tightly cropped, roughly centred faces (FER2013-like framing).

    Args:
        rng: random stream.
        count: faces.
        size: side of the square output canvas in pixels.
        scale: (min, max) face half-height as a fraction of `size`.
        shift: maximum centre offset as a fraction of `size`.
        angle_degrees: maximum in-plane rotation.

    Returns:
        A structured array of `POSE_DTYPE`, shape ``[count]``.
    """
    pose = np.zeros(count, POSE_DTYPE)
    pose["cx"] = size / 2 - 0.5 + rng.uniform(-shift, shift, count) * size
    pose["cy"] = size / 2 - 0.5 + rng.uniform(-shift, shift, count) * size + 0.02 * size
    pose["scale"] = rng.uniform(*scale, count) * size
    pose["angle"] = np.deg2rad(rng.uniform(-angle_degrees, angle_degrees, count))
    pose["side"] = np.where(rng.random(count) < 0.5, -1.0, 1.0)
    return pose


# ---------------------------------------------------------------------------------------------
# Canonical-frame drawing helpers. All shapes broadcast [B, 1, 1] parameters against [1, h, 1]
# (v) and [1, 1, w] (u) coordinates of a window of the grid.


def _window(v0: float, v1: float, u0: float = -_EXTENT, u1: float = _EXTENT):
    r0, r1 = np.searchsorted(_AXIS, v0), np.searchsorted(_AXIS, v1, side="right")
    c0, c1 = np.searchsorted(_AXIS, u0), np.searchsorted(_AXIS, u1, side="right")
    rows, cols = slice(int(r0), int(r1)), slice(int(c0), int(c1))
    return rows, cols, _AXIS[cols][None, None, :], _AXIS[rows][None, :, None]


def _cover(distance):
    """Coverage from a signed distance (negative inside), linear over one pixel."""
    return np.clip(0.5 - distance / _AA, 0.0, 1.0)


def _paint(grey, rows, cols, coverage, colour):
    region = grey[:, rows, cols]
    region += coverage * (colour - region)


def _shade(grey, rows, cols, factor):
    grey[:, rows, cols] *= factor


def _segment_distance(u, v, au, av, bu, bv):
    du, dv = bu - au, bv - av
    t = np.clip(((u - au) * du + (v - av) * dv) / (du * du + dv * dv + 1e-9), 0.0, 1.0)
    return np.sqrt((u - au - t * du) ** 2 + (v - av - t * dv) ** 2), t


def _col(values):
    return np.asarray(values, np.float32)[:, None, None]


# Long on purpose: it paints one face layer by layer; the layers share ~20 arrays.
def _render_canonical(
    ids: np.ndarray, actions: np.ndarray, corner_side: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied grey and coverage on the canonical grid: two ``[B, 64, 64]`` arrays.

    `corner_side` (+1/-1 per face) picks the corner that one-sided actions raise.
    """
    batch = ids.shape[0]
    a = {name: _col(actions[:, i]) for i, name in enumerate(ACTIONS)}
    p = {name: _col(ids[name]) for name in IDENTITY_DTYPE.names if name != "resting"}
    skin = p["skin"]
    grey = np.zeros((batch, _GRID, _GRID), np.float32)
    alpha = np.zeros_like(grey)
    full_v, full_u = _AXIS[None, :, None], _AXIS[None, None, :]
    everything = (slice(None), slice(None))

    # Hair behind the head (long hair), neck, face.
    aw, ah = p["face_width"], p["face_height"]
    back = np.sqrt((full_u / (aw + 0.16)) ** 2 + ((full_v + 0.08) / (ah + 0.14)) ** 2) - 1.0
    back = np.maximum(back * (aw + 0.16), full_v - 0.2 - 0.6 * p["hair_length"])
    hair_back = _cover(back) * (1.0 - p["bald"]) * (p["hair_length"] > 0)
    _paint(grey, *everything, hair_back, p["hair_tone"])
    alpha = np.maximum(alpha, hair_back)
    neck = _cover(np.maximum(np.abs(full_u) - 0.36 * aw / 0.76, 0.55 - full_v))
    _paint(grey, *everything, neck, 0.78 * skin)
    alpha = np.maximum(alpha, neck)
    chin_drop = 0.06 * np.clip(a["mouth_open"], 0.0, None)
    height = ah + chin_drop * (full_v > 0)
    width = aw * (1.0 - p["jaw"] * np.clip(full_v, 0.0, None) ** 2 * 0.45)
    f = (full_u / width) ** 2 + (full_v / height) ** 2 - 1.0
    gradient = 2.0 * np.sqrt((full_u / width**2) ** 2 + (full_v / height**2) ** 2) + 1e-6
    face = _cover(f / gradient)
    radial = np.clip(1.0 - (full_u / width) ** 2 - (full_v / height) ** 2, 0.0, 1.0)
    shading = (0.78 + 0.22 * np.sqrt(radial)) * (1.0 + 0.14 * (p["light_x"] * full_u + p["light_y"] * full_v))
    _paint(grey, *everything, face, skin * shading)
    alpha = np.maximum(alpha, face)

    eye_x, eye_y, eye_w = p["eye_x"], p["eye_y"], p["eye_width"]
    brow_v = eye_y - p["brow_gap"]

    # Forehead lines (raised brows).
    rows, cols, u, v = _window(-0.95, -0.35, -0.45, 0.45)
    lines = np.zeros((batch, v.shape[1], u.shape[2]), np.float32)
    for k in range(3):
        centre = brow_v - 0.17 - 0.075 * k - 0.02 * u**2
        d = np.maximum(np.abs(v - centre) - 0.008, np.abs(u) - 0.32)
        lines = np.maximum(lines, _cover(d))
    _shade(grey, rows, cols, 1.0 - 0.22 * np.clip(a["brow_raise"] - 0.2, 0.0, 1.0) * lines)

    # Hair fringe over the forehead.
    hairline = p["hairline"] + 0.28 * full_u**2
    fringe = np.maximum(f / gradient - 0.05, full_v - hairline)
    fringe = _cover(fringe) * (1.0 - p["bald"])
    _paint(grey, *everything, fringe, p["hair_tone"])
    alpha = np.maximum(alpha, fringe)

    # Brows: a two-segment polyline per side (inner -> peak -> outer), tapered.
    rows, cols, u, v = _window(-0.85, -0.05, -0.75, 0.75)
    raise_, inner, knit = a["brow_raise"], a["brow_inner"], a["brow_knit"]
    brows = np.zeros((batch, v.shape[1], u.shape[2]), np.float32)
    for side in (-1.0, 1.0):
        in_u = side * (eye_x - eye_w - 0.02 - 0.045 * knit)
        in_v = brow_v - 0.11 * raise_ - 0.1 * inner + 0.015 * np.clip(knit, 0, None)
        out_u = side * (eye_x + eye_w + 0.06)
        out_v = brow_v - 0.1 * raise_ + 0.035 * inner
        mid_u = 0.45 * in_u + 0.55 * out_u
        mid_v = 0.5 * (in_v + out_v) - p["brow_arch"] - 0.03 * np.clip(raise_, 0, None)
        d1, t1 = _segment_distance(u, v, in_u, in_v, mid_u, mid_v)
        d2, t2 = _segment_distance(u, v, mid_u, mid_v, out_u, out_v)
        thick = p["brow_thickness"]
        d = np.minimum(d1 - thick * (1.0 - 0.15 * t1), d2 - thick * (0.85 - 0.35 * t2))
        brows = np.maximum(brows, _cover(d))
    _paint(grey, rows, cols, brows, p["brow_tone"])

    # Glabella lines (knitted brows) and nose wrinkles.
    rows, cols, u, v = _window(-0.55, 0.15, -0.14, 0.14)
    marks = np.zeros((batch, v.shape[1], u.shape[2]), np.float32)
    for side in (-1.0, 1.0):
        d = np.maximum(np.abs(u - side * 0.04) - 0.008, np.abs(v - (brow_v + 0.07)) - 0.06)
        marks = np.maximum(marks, _cover(d) * np.clip(knit, 0.0, 1.0) * 0.8)
    for k in range(3):
        centre = eye_y + 0.03 + 0.045 * k + 0.5 * u**2
        d = np.maximum(np.abs(v - centre) - 0.009, np.abs(u) - 0.085)
        marks = np.maximum(marks, _cover(d) * np.clip(a["nose_wrinkle"], 0.0, 1.0))
    _shade(grey, rows, cols, 1.0 - 0.4 * marks)

    # Eyes: socket shadow, sclera, iris, pupil, upper lid line; glasses.
    rows, cols, u, v = _window(-0.5, 0.25, -0.7, 0.7)
    aperture = eye_w * 0.42 * np.clip(1.0 + 0.75 * a["eye_open"], 0.12, 2.2)
    top_h = aperture * 1.1
    bottom_h = aperture * 0.8 * np.clip(1.0 - 0.45 * a["cheek_raise"], 0.3, 1.2)
    socket = np.zeros((batch, v.shape[1], u.shape[2]), np.float32)
    sclera = np.zeros_like(socket)
    iris = np.zeros_like(socket)
    pupil = np.zeros_like(socket)
    lid = np.zeros_like(socket)
    rims = np.zeros_like(socket)
    for side in (-1.0, 1.0):
        cu = side * eye_x
        q = (u - cu) / eye_w
        r = np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0))
        inside_q = np.abs(q) < 1.0
        d_eye = np.where(inside_q, np.maximum(eye_y - top_h * r - v, v - eye_y - bottom_h * r), 1.0)
        cover = _cover(d_eye)
        sclera = np.maximum(sclera, cover)
        rad = np.sqrt((u - cu) ** 2 + (v - eye_y) ** 2)
        iris = np.maximum(iris, cover * _cover(rad - 0.52 * eye_w))
        pupil = np.maximum(pupil, cover * _cover(rad - 0.22 * eye_w))
        lid_d = np.where(np.abs(q) < 1.08, np.abs(v - (eye_y - top_h * r)) - 0.014, 1.0)
        lid = np.maximum(lid, _cover(lid_d))
        socket = np.maximum(socket, np.exp(-(((u - cu) / 0.2) ** 2) - ((v - eye_y + 0.03) / 0.13) ** 2))
        rims = np.maximum(rims, _cover(np.abs(rad - 0.19) - 0.014))
    rims = np.maximum(rims, _cover(np.maximum(np.abs(v - eye_y + 0.02) - 0.012, np.abs(u) - (eye_x - 0.18))))
    _shade(grey, rows, cols, 1.0 - 0.16 * socket)
    _paint(grey, rows, cols, sclera, 0.45 * skin + 0.55 * 225.0)
    _paint(grey, rows, cols, iris, p["iris_tone"])
    _paint(grey, rows, cols, pupil, 12.0)
    _paint(grey, rows, cols, lid, 0.35 * skin)
    _paint(grey, rows, cols, rims * p["glasses"], 25.0)

    # Nose: bridge shade, tip shadow, nostrils.
    nose_v = eye_y + p["nose_length"]
    rows, cols, u, v = _window(-0.15, 0.45, -0.25, 0.25)
    light = np.sign(p["light_x"] + 1e-3)
    bridge = np.exp(-(((u + light * 0.075) / 0.03) ** 2)) * (v > eye_y) * (v < nose_v)
    tip = np.exp(-((u / 0.11) ** 2) - ((v - nose_v - 0.035) / 0.03) ** 2)
    _shade(grey, rows, cols, (1.0 - 0.1 * bridge) * (1.0 - 0.22 * tip))
    flare = 1.0 + 0.35 * np.clip(a["nose_wrinkle"], 0.0, None)
    lift = 0.035 * a["nose_wrinkle"] + 0.025 * a["upper_lip_raise"]
    nostrils = np.zeros((batch, v.shape[1], u.shape[2]), np.float32)
    for side in (-1.0, 1.0):
        du = (u - side * 0.062 * flare) / (0.034 * flare)
        dv = (v - nose_v - 0.025 + lift) / 0.018
        nostrils = np.maximum(nostrils, _cover((np.sqrt(du * du + dv * dv) - 1.0) * 0.018))
    _paint(grey, rows, cols, nostrils, 0.4 * skin)

    # Mouth geometry.
    mouth_v = p["mouth_y"] + 0.02 * np.clip(a["mouth_open"], 0.0, None)
    half_w = p["mouth_width"] * np.clip(
        1.0 + 0.3 * a["mouth_stretch"] + 0.12 * np.clip(a["mouth_curve"], 0.0, None), 0.45, 1.6
    )
    rows, cols, u, v = _window(0.0, 1.0, -0.7, 0.7)

    # Nasolabial folds and cheek highlights.
    folds = np.zeros((batch, v.shape[1], u.shape[2]), np.float32)
    for side in (-1.0, 1.0):
        top_u, top_v = side * 0.13, nose_v + 0.01
        bot_u, bot_v = side * (half_w + 0.09), mouth_v + 0.04
        mid_u, mid_v = 0.5 * (top_u + bot_u) + side * 0.05, 0.5 * (top_v + bot_v)
        d1, _ = _segment_distance(u, v, top_u, top_v, mid_u, mid_v)
        d2, _ = _segment_distance(u, v, mid_u, mid_v, bot_u, bot_v)
        folds = np.maximum(folds, _cover(np.minimum(d1, d2) - 0.012))
    strength = np.clip(0.05 + 0.15 * a["cheek_raise"] + 0.3 * a["upper_lip_raise"], 0.0, 0.5)
    _shade(grey, rows, cols, 1.0 - strength * folds)
    cheeks = sum(np.exp(-(((u - s * 0.36) / 0.12) ** 2) - ((v - eye_y - 0.26) / 0.1) ** 2) for s in (-1, 1))
    _shade(grey, rows, cols, 1.0 + 0.14 * np.clip(a["cheek_raise"], 0.0, 1.0) * cheeks)

    # Mouth: lip line, lips, opening, teeth.
    xn = u / half_w
    inside = np.clip(1.0 - xn * xn, 0.0, 1.0)
    lift = 0.13 * a["mouth_curve"]
    one_side = 0.2 * a["smile_asym"] * np.clip(_col(corner_side) * xn, 0.0, 1.0) ** 2
    centre = mouth_v - lift * xn * xn + 0.25 * lift - one_side
    roundness = np.clip(0.7 + 0.3 * a["mouth_stretch"], 0.35, 1.0)  # narrow mouths open round
    opening = 0.2 * np.clip(a["mouth_open"], 0.0, None) * inside**roundness
    raise_gap = 0.05 * np.clip(a["upper_lip_raise"], 0.0, None) * np.sqrt(inside)
    upper = centre - 0.3 * opening - raise_gap
    lower = centre + 0.7 * opening
    ends = (np.abs(xn) - 1.0) * half_w
    press = np.clip(a["lip_press"], 0.0, 1.0)
    lip_t = p["lip_thickness"] * (1.0 - 0.7 * press) * (0.35 + 0.65 * inside**0.4)
    lips = np.maximum(
        _cover(np.maximum(np.maximum(upper - lip_t - v, v - upper), ends)),
        _cover(np.maximum(np.maximum(lower - v, v - lower - 1.3 * lip_t), ends)),
    )
    _paint(grey, rows, cols, lips, 0.8 * skin)
    line = _cover(np.maximum(np.abs(v - centre) - 0.008 - 0.006 * press, ends + 0.01))
    _paint(grey, rows, cols, line, 0.35 * skin)
    hole = _cover(np.maximum(np.maximum(upper - v, v - lower), ends))
    _paint(grey, rows, cols, hole, 22.0)
    teeth_amount = np.clip(np.clip(a["mouth_curve"], 0.0, 1.0) + a["upper_lip_raise"], 0.0, 1.0)
    teeth_depth = 0.025 + 0.45 * (lower - upper) * np.clip(a["mouth_curve"], 0.0, 1.0)
    teeth_depth = teeth_depth + 0.03 * np.clip(a["upper_lip_raise"], 0.0, 1.0)
    teeth = hole * _cover(v - upper - teeth_depth) * teeth_amount
    _paint(grey, rows, cols, teeth, 215.0)
    corners = sum(
        np.exp(-(((u - s * half_w * 1.02) / 0.025) ** 2) - ((v - centre) / 0.025) ** 2) for s in (-1, 1)
    )
    corner_depth = np.clip(np.abs(a["mouth_curve"]), 0.0, 1.0) + np.clip(a["smile_asym"], 0.0, 1.0)
    _shade(grey, rows, cols, 1.0 - 0.3 * np.clip(corner_depth, 0.0, 1.0) * corners)
    return grey * alpha, alpha



def render_faces(
    identities: np.ndarray,
    actions: np.ndarray,
    pose: np.ndarray,
    *,
    height: int,
    width: int,
    background: np.ndarray,
    background_gradient: np.ndarray | None = None,
) -> np.ndarray:
    """Renders a batch of faces onto grey canvases.

    Args:
        identities: ``[B]`` structured array of `IDENTITY_DTYPE`.
        actions: ``[B, NUM_ACTIONS]`` expression actions (see `expression_actions`).
        pose: ``[B]`` structured array of `POSE_DTYPE` (pixels of the output canvas).
        height, width: output size in pixels.
        background: ``[B]`` background grey level.
        background_gradient: optional ``[B, 2]`` horizontal/vertical gradient (grey levels
            across the canvas).

    Returns:
        float32 ``[B, height, width]`` grey levels in [0, 255] (not yet quantised or noisy).

    Raises:
        ValueError: when the batch sizes disagree.
    """
    batch = identities.shape[0]
    actions = np.asarray(actions, np.float32)
    if actions.shape != (batch, NUM_ACTIONS) or pose.shape[0] != batch or np.shape(background)[0] != batch:
        raise ValueError(
            f"render_faces needs matching batch sizes: identities {identities.shape}, actions "
            f"{actions.shape} (expected ({batch}, {NUM_ACTIONS})), pose {pose.shape}, background "
            f"{np.shape(background)}."
        )
    premultiplied, alpha = _render_canonical(identities, actions, pose["side"])
    # Output pixel -> canonical grid coordinates (inverse similarity transform).
    ys = np.arange(height, dtype=np.float32)[None, :, None]
    xs = np.arange(width, dtype=np.float32)[None, None, :]
    cos, sin = _col(np.cos(pose["angle"])), _col(np.sin(pose["angle"]))
    scale = _col(pose["scale"])
    px = (xs - _col(pose["cx"])) / scale
    py = (ys - _col(pose["cy"])) / scale
    u = cos * px + sin * py
    v = -sin * px + cos * py
    gu = (u + _EXTENT) / _STEP
    gv = (v + _EXTENT) / _STEP
    inside = (gu >= 0) & (gu <= _GRID - 1) & (gv >= 0) & (gv <= _GRID - 1)
    gu = np.clip(gu, 0, _GRID - 1.001)
    gv = np.clip(gv, 0, _GRID - 1.001)
    iu, iv = gu.astype(np.intp), gv.astype(np.intp)
    fu, fv = gu - iu, gv - iv
    index = (np.arange(batch, dtype=np.intp)[:, None, None] * (_GRID * _GRID) + iv * _GRID + iu).reshape(-1)
    sampled = []
    for layer in (premultiplied.reshape(-1), alpha.reshape(-1)):
        corner = lambda offset: layer.take(index + offset).reshape(batch, height, width)  # noqa: E731
        top_left, top_right = corner(0), corner(1)
        top = top_left + fu * (top_right - top_left)
        bottom_left, bottom_right = corner(_GRID), corner(_GRID + 1)
        bottom = bottom_left + fu * (bottom_right - bottom_left)
        sampled.append((top + fv * (bottom - top)) * inside)
    canvas = _col(background) + np.zeros((batch, height, width), np.float32)
    if background_gradient is not None:
        g = np.asarray(background_gradient, np.float32)
        canvas = canvas + g[:, 0, None, None] * (xs / max(width - 1, 1) - 0.5) + g[:, 1, None, None] * (
            ys / max(height - 1, 1) - 0.5
        )
    out = canvas * (1.0 - sampled[1]) + sampled[0]
    return np.clip(out, 0.0, 255.0).astype(np.float32)
