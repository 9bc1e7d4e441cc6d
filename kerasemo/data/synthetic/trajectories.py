"""Latent emotion trajectories of talking-face tracks, and each identity's emotional bias.

A track's latent state is mostly neutral, with emotional **episodes** (1-3 s by default) in
which the face, and usually the voice, show one emotion at some intensity, ramping in and out
over 0.25 s. Episode emotions are drawn from the identity's own prior (`EmotionalBias`), a
perturbation of the corpus-wide skew below, with one "signature" emotion boosted four-fold, so
that who is speaking predicts what they feel: the shortcut that the unheard-identity split is
there to expose.

The corpus-wide skew follows the paper's Figure 4 (dominant teacher emotion per frame on
EmoVoxCeleb): neutral >> happiness > surprise > sadness ~ anger >> disgust ~ fear ~ contempt.

| emotion   | share of episodes (`EPISODE_PRIOR`) |
|-----------|-------------------------------------|
| happiness | 0.42                                |
| surprise  | 0.17                                |
| sadness   | 0.12                                |
| anger     | 0.12                                |
| disgust   | 0.06                                |
| fear      | 0.05                                |
| contempt  | 0.06                                |

With probability ``voice_face_mismatch`` an episode's **voice** does not follow its face: it
stays neutral (half of those cases) or shows another emotion drawn from the identity's prior.
The face is what the teacher sees, the voice what the student hears; the mismatch caps how
well the student can agree with the teacher, as in real data.

Example:

>>> from kerasemo.data.synthetic.seeding import rng_for
>>> bias = sample_bias(rng_for(0, "doc"), (0.3, 0.5))
>>> trajectory = sample_trajectory(rng_for(0, "doc", 1), 8.0, bias)
>>> trajectory.weights([0.0, 4.0], "face").shape
(2, 8)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from kerasemo.emotions import CLASSES, NUM_CLASSES, class_index

EPISODE_PRIOR: dict[str, float] = {
    "happiness": 0.42,
    "surprise": 0.17,
    "sadness": 0.12,
    "anger": 0.12,
    "disgust": 0.06,
    "fear": 0.05,
    "contempt": 0.06,
}
"""Corpus-wide share of each non-neutral emotion among episodes (paper Figure 4 ordering)."""

RAMP_SECONDS = 0.25
"""Onset and offset ramp of an episode's intensity."""

MODALITIES = ("face", "voice")


@dataclasses.dataclass(frozen=True)
class EmotionalBias:
    """One identity's emotional disposition.

    Args:
        prior: probabilities over `CLASSES` of an episode's emotion (neutral has 0).
        episode_fraction: expected fraction of speaking time spent in episodes.
        signature: the emotion this identity shows most often relative to others.
    """

    prior: tuple[float, ...]
    episode_fraction: float
    signature: str

    def __post_init__(self):
        if len(self.prior) != NUM_CLASSES or abs(sum(self.prior) - 1.0) > 1e-6 or self.prior[0] != 0:
            raise ValueError(
                f"EmotionalBias.prior must be {NUM_CLASSES} probabilities summing to 1 with 0 for "
                f"neutral; received {self.prior!r}."
            )
        if not 0 < self.episode_fraction < 1:
            raise ValueError(
                f"EmotionalBias.episode_fraction must be in (0, 1); received {self.episode_fraction!r}."
            )


def sample_bias(rng: np.random.Generator, episode_fraction: tuple[float, float]) -> EmotionalBias:
    """Draws an identity's emotional bias around `EPISODE_PRIOR`.

    Args:
        rng: the identity's random stream.
        episode_fraction: (min, max) of the identity's expressiveness.

    Returns:
        An `EmotionalBias`.

    Example:

    >>> from kerasemo.data.synthetic.seeding import rng_for
    >>> sum(sample_bias(rng_for(0, "x"), (0.2, 0.4)).prior)  # doctest: +ELLIPSIS
    1.0...
    """
    names = list(EPISODE_PRIOR)
    base = np.array([EPISODE_PRIOR[n] for n in names])
    logits = np.log(base) + rng.normal(0.0, 0.5, size=len(names))
    signature = int(rng.choice(len(names), p=base))
    logits[signature] += np.log(4.0)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    prior = np.zeros(NUM_CLASSES)
    for name, p in zip(names, probs):
        prior[class_index(name)] = p
    prior /= prior.sum()
    low, high = episode_fraction
    fraction = float(np.clip(rng.uniform(low, high), 0.01, 0.95))
    return EmotionalBias(tuple(float(p) for p in prior), fraction, names[signature])


@dataclasses.dataclass(frozen=True)
class Episode:
    """One emotional episode of a track.

    Args:
        start, end: seconds from the start of the track.
        face_emotion: what the face shows.
        voice_emotion: what the voice shows ("neutral" when the voice stays flat).
        intensity: peak intensity in (0, 1].
    """

    start: float
    end: float
    face_emotion: str
    voice_emotion: str
    intensity: float

    @property
    def mismatch(self) -> bool:
        """Whether the voice shows something other than the face."""
        return self.face_emotion != self.voice_emotion

    def emotion(self, modality: str) -> str:
        return self.face_emotion if modality == "face" else self.voice_emotion


def _trapezoid(times: np.ndarray, start: float, end: float) -> np.ndarray:
    ramp = min(RAMP_SECONDS, (end - start) / 3.0)
    rise = np.clip((times - start) / ramp, 0.0, 1.0)
    fall = np.clip((end - times) / ramp, 0.0, 1.0)
    return np.minimum(rise, fall)


@dataclasses.dataclass(frozen=True)
class EmotionTrajectory:
    """The latent emotion of one track over time.

    Args:
        duration: seconds.
        episodes: non-overlapping episodes in time order; neutral elsewhere.
    """

    duration: float
    episodes: tuple[Episode, ...] = ()

    def weights(self, times: Sequence[float] | np.ndarray, modality: str = "face") -> np.ndarray:
        """Emotion weights at `times`: ``[T, 8]`` in `CLASSES` order, rows summing to 1.

        The column of an episode's emotion holds ``intensity x ramp``; neutral holds the rest.

        Args:
            times: seconds.
            modality: "face" or "voice" (which of the episode's emotions counts).

        Returns:
            float32 array ``[len(times), 8]``.

        Raises:
            ValueError: for an unknown modality.
        """
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}; received {modality!r}.")
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        out = np.zeros((times.size, NUM_CLASSES), np.float64)
        for episode in self.episodes:
            index = class_index(episode.emotion(modality))
            if index == 0:
                continue
            out[:, index] += episode.intensity * _trapezoid(times, episode.start, episode.end)
        out[:, 0] = 1.0 - out[:, 1:].sum(axis=1)
        return out.astype(np.float32)

    def segments(self) -> list[dict]:
        """The trajectory as contiguous segments covering ``[0, duration]`` (ground truth rows).

        Returns:
            A list of dicts with ``start``, ``end``, ``face_emotion``, ``voice_emotion``,
            ``intensity`` and ``mismatch`` (neutral gaps have intensity 0).
        """
        rows, cursor = [], 0.0
        for episode in self.episodes:
            if episode.start > cursor + 1e-9:
                rows.append(_neutral_row(cursor, episode.start))
            rows.append(
                {
                    "start": episode.start,
                    "end": episode.end,
                    "face_emotion": episode.face_emotion,
                    "voice_emotion": episode.voice_emotion,
                    "intensity": episode.intensity,
                    "mismatch": episode.mismatch,
                }
            )
            cursor = episode.end
        if cursor < self.duration - 1e-9:
            rows.append(_neutral_row(cursor, self.duration))
        return rows


def _neutral_row(start: float, end: float) -> dict:
    return {
        "start": start,
        "end": end,
        "face_emotion": "neutral",
        "voice_emotion": "neutral",
        "intensity": 0.0,
        "mismatch": False,
    }


def constant_trajectory(duration: float, emotion: str, intensity: float = 1.0) -> EmotionTrajectory:
    """A trajectory that shows one emotion throughout (acted clips, contact sheet).

    The emotion is at full `intensity` from the first to the last sample (no ramps).

    Example:

    >>> float(constant_trajectory(2.0, "anger", 0.8).weights([1.0])[0, 4])  # doctest: +ELLIPSIS
    0.8...
    """
    class_index(emotion)  # validates the name
    if emotion == "neutral":
        return EmotionTrajectory(duration, ())
    episode = Episode(-1.0, duration + 1.0, emotion, emotion, float(intensity))
    return EmotionTrajectory(duration, (episode,))


def sample_trajectory(
    rng: np.random.Generator,
    duration: float,
    bias: EmotionalBias,
    *,
    episode_seconds: tuple[float, float] = (1.0, 3.0),
    voice_face_mismatch: float = 0.2,
    intensity: tuple[float, float] = (0.45, 1.0),
) -> EmotionTrajectory:
    """Draws a track's trajectory: neutral gaps and episodes from the identity's bias.

    Gaps are exponential with the mean that makes the expected episode share equal to
    ``bias.episode_fraction``.

    Args:
        rng: the track's random stream.
        duration: track length in seconds.
        bias: the identity's `EmotionalBias`.
        episode_seconds: (min, max) episode duration.
        voice_face_mismatch: probability that the voice does not follow the face in an episode.
        intensity: (min, max) peak intensity of an episode.

    Returns:
        An `EmotionTrajectory`.
    """
    mean_episode = 0.5 * (episode_seconds[0] + episode_seconds[1])
    mean_gap = mean_episode * (1.0 - bias.episode_fraction) / bias.episode_fraction
    prior = np.asarray(bias.prior)
    episodes, cursor = [], 0.0
    while True:
        start = cursor + rng.exponential(mean_gap)
        if start > duration - 0.5:
            break
        end = min(start + rng.uniform(*episode_seconds), duration)
        face = int(rng.choice(NUM_CLASSES, p=prior))
        voice = face
        if rng.random() < voice_face_mismatch:
            if rng.random() < 0.5:
                voice = 0
            else:
                others = prior.copy()
                others[face] = 0.0
                voice = int(rng.choice(NUM_CLASSES, p=others / others.sum()))
        episodes.append(
            Episode(float(start), float(end), CLASSES[face], CLASSES[voice], float(rng.uniform(*intensity)))
        )
        cursor = end
    return EmotionTrajectory(float(duration), tuple(episodes))
