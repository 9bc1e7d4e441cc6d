"""Named sizes of the synthetic corpus (`SyntheticPreset`, `PRESETS`, `get_preset`).

Two presets ship:

- ``demo``: what the embedded default of the distillation demo uses; written in about half a
  minute on a 2-core CPU (goal: <= 60 s, measured by `kerasemo.benchmarks.synthetic`).
- ``tiny``: a few seconds; used by the tests. It also writes the optional per-track mp4 face
  videos so that path is exercised.

Every size lives here and nowhere else; the generators take a preset and a seed.

Example:

>>> preset = get_preset("tiny")
>>> preset.num_identities >= 4
True
>>> import dataclasses
>>> dataclasses.replace(preset, num_faces=10)
Traceback (most recent call last):
...
ValueError: SyntheticPreset.num_faces must be >= 100 (enough faces for every FERPlus usage split and every cleaning rule); received 10.
"""

from __future__ import annotations

import dataclasses


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_range(name: str, value, low, high=None) -> None:
    _check(
        isinstance(value, tuple) and len(value) == 2 and value[0] <= value[1],
        f"SyntheticPreset.{name} must be a (min, max) pair with min <= max; received {value!r}.",
    )
    _check(
        value[0] >= low and (high is None or value[1] <= high),
        f"SyntheticPreset.{name} must lie within [{low}, {high if high is not None else 'inf'}]; "
        f"received {value!r}.",
    )


def _check_fraction(name: str, value, high: float = 1.0) -> None:
    _check(
        0.0 <= value < high,
        f"SyntheticPreset.{name} must be in [0, {high}); received {value!r}.",
    )


@dataclasses.dataclass(frozen=True)
class SyntheticPreset:
    """Sizes and rates of one synthetic corpus.

    Args:
        name: the preset's name (recorded in ``corpus.json``).
        description: one line on what it is for.
        num_faces: rows of the FERPlus-format face set (faces, unknown and not-a-face rows).
        face_blend_fraction: faces rendered as a blend of two related emotions (the annotators
            then split their votes between them).
        unknown_fraction: rows whose face is too degraded to read (annotators vote "unknown").
        nonface_fraction: rows that are not faces at all (annotators vote "NF"; empty image
            name).
        tied_fraction: faces so ambiguous that the annotators split 3/3/3 over three emotions.
        usage_fractions: Training / PublicTest / PrivateTest shares of the rows.
        num_identities: speakers of the talking-face tracks (``idXXXXX``).
        videos_per_identity: (min, max) videos per identity.
        tracks_per_video: (min, max) tracks per video.
        track_seconds: (min, max) duration of an ordinary track in seconds.
        short_track_fraction: tracks drawn from 1.5-3.9 s instead, shorter than the student's
            4 s crop, so zero-padding is exercised.
        episode_fraction: (min, max) fraction of an identity's speaking time spent in an
            emotional episode (each identity draws its own expressiveness).
        episode_seconds: (min, max) duration of one emotional episode.
        voice_face_mismatch: probability that an episode's voice does not show the face's
            emotion (it shows neutral or another emotion instead).
        transition_frame_probability: probability that a labelled frame inside an episode is a
            near-neutral transition face (the paper's Figure 2 phenomenon).
        frame_crop_size: side of the extracted face-crop JPEGs (pixels).
        write_videos: also write one mp4 (H.264 video + AAC audio) per track.
        video_size: (width, height) of those mp4 frames; the track boxes are in pixels of a
            640 x 360 frame and scale by ``height / 360``.
        rml_subjects: speakers of the RML-like acted set.
        rml_clips_per_emotion: clips per subject and emotion in the RML-like set.
        cremad_actors: speakers of the CREMA-D-like acted set.
        cremad_clips_per_emotion: clips per actor and emotion in the CREMA-D-like set.
        acted_seconds: (min, max) duration of an acted clip.
    """

    name: str
    description: str = ""
    num_faces: int = 4000
    face_blend_fraction: float = 0.2
    unknown_fraction: float = 0.02
    nonface_fraction: float = 0.015
    tied_fraction: float = 0.01
    usage_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    num_identities: int = 40
    videos_per_identity: tuple[int, int] = (2, 4)
    tracks_per_video: tuple[int, int] = (1, 3)
    track_seconds: tuple[float, float] = (4.0, 10.0)
    short_track_fraction: float = 0.1
    episode_fraction: tuple[float, float] = (0.25, 0.55)
    episode_seconds: tuple[float, float] = (1.0, 3.0)
    voice_face_mismatch: float = 0.2
    transition_frame_probability: float = 0.3
    frame_crop_size: int = 64
    write_videos: bool = False
    video_size: tuple[int, int] = (192, 108)
    rml_subjects: int = 4
    rml_clips_per_emotion: int = 8
    cremad_actors: int = 6
    cremad_clips_per_emotion: int = 6
    acted_seconds: tuple[float, float] = (1.8, 3.2)

    def __post_init__(self):
        _check(bool(self.name), "SyntheticPreset.name must be a non-empty string.")
        _check(
            isinstance(self.num_faces, int) and self.num_faces >= 100,
            "SyntheticPreset.num_faces must be >= 100 (enough faces for every FERPlus usage "
            f"split and every cleaning rule); received {self.num_faces!r}.",
        )
        for key in ("face_blend_fraction", "unknown_fraction", "nonface_fraction", "tied_fraction"):
            _check_fraction(key, getattr(self, key), 0.5)
        _check(
            self.unknown_fraction + self.nonface_fraction + self.tied_fraction < 0.5,
            "SyntheticPreset: unknown_fraction + nonface_fraction + tied_fraction must be < 0.5 "
            "(most rows must be usable faces); received "
            f"{self.unknown_fraction + self.nonface_fraction + self.tied_fraction!r}.",
        )
        _check(
            len(self.usage_fractions) == 3
            and all(f > 0 for f in self.usage_fractions)
            and abs(sum(self.usage_fractions) - 1.0) < 1e-6,
            "SyntheticPreset.usage_fractions must be three positive shares (Training, PublicTest, "
            f"PrivateTest) summing to 1; received {self.usage_fractions!r}.",
        )
        _check(
            isinstance(self.num_identities, int) and self.num_identities >= 2,
            f"SyntheticPreset.num_identities must be an integer >= 2; received {self.num_identities!r}.",
        )
        _check_range("videos_per_identity", self.videos_per_identity, 1, 20)
        _check_range("tracks_per_video", self.tracks_per_video, 1, 20)
        _check_range("track_seconds", self.track_seconds, 1.0, 60.0)
        _check_range("episode_fraction", self.episode_fraction, 0.0, 0.95)
        _check_range("episode_seconds", self.episode_seconds, 0.3, 30.0)
        _check_range("acted_seconds", self.acted_seconds, 0.5, 30.0)
        _check_fraction("short_track_fraction", self.short_track_fraction)
        _check_fraction("voice_face_mismatch", self.voice_face_mismatch)
        _check_fraction("transition_frame_probability", self.transition_frame_probability)
        _check(
            isinstance(self.frame_crop_size, int) and 32 <= self.frame_crop_size <= 256,
            f"SyntheticPreset.frame_crop_size must be an integer in [32, 256]; received "
            f"{self.frame_crop_size!r}.",
        )
        width, height = self.video_size
        _check(
            width % 2 == 0 and height % 2 == 0 and 32 <= height <= 720 and width >= height,
            "SyntheticPreset.video_size must be an even (width, height) with 32 <= height <= 720 "
            f"and width >= height (H.264 4:2:0 needs even sides); received {self.video_size!r}.",
        )
        for key in ("rml_subjects", "rml_clips_per_emotion", "cremad_actors", "cremad_clips_per_emotion"):
            value = getattr(self, key)
            _check(
                isinstance(value, int) and value >= 1,
                f"SyntheticPreset.{key} must be an integer >= 1; received {value!r}.",
            )
        _check(
            self.cremad_clips_per_emotion <= 12,
            "SyntheticPreset.cremad_clips_per_emotion must be <= 12 (one per CREMA-D sentence, so "
            f"file names stay unique); received {self.cremad_clips_per_emotion!r}.",
        )
        _check(
            self.rml_subjects <= 8,
            f"SyntheticPreset.rml_subjects must be <= 8 (as many folder layouts as RML has "
            f"subjects); received {self.rml_subjects!r}.",
        )

    def to_dict(self) -> dict:
        """The preset as plain JSON-ready values (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict) -> "SyntheticPreset":
        """Inverse of `to_dict`.

        Raises:
            ValueError: for unknown keys or invalid values.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        _check(not unknown, f"Unknown SyntheticPreset key(s) {unknown}; known keys: {sorted(known)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


PRESETS: dict[str, SyntheticPreset] = {
    "demo": SyntheticPreset(
        # Many speakers with few, short tracks each: a voice student generalises to unheard
        # speakers only when it has heard many (measured by diagnose_transfer); the acted sets
        # have RML's 8 subjects and 10 CREMA-D-like actors so speaker folds have support.
        name="demo",
        description="embedded default of the distillation demo: 200 speakers, ~50 min of tracks, 2-core CPU",
        num_faces=4000,
        num_identities=200,
        videos_per_identity=(1, 2),
        tracks_per_video=(1, 3),
        track_seconds=(4.0, 6.5),
        write_videos=False,
        rml_subjects=8,
        rml_clips_per_emotion=5,
        cremad_actors=10,
        cremad_clips_per_emotion=4,
    ),
    "tiny": SyntheticPreset(
        name="tiny",
        description="a few seconds to generate; used by the tests (writes mp4 videos too)",
        num_faces=2000,
        num_identities=6,
        videos_per_identity=(1, 2),
        tracks_per_video=(1, 2),
        track_seconds=(3.0, 6.0),
        short_track_fraction=0.25,
        write_videos=True,
        video_size=(128, 72),
        rml_subjects=4,
        rml_clips_per_emotion=5,
        cremad_actors=2,
        cremad_clips_per_emotion=2,
        acted_seconds=(1.6, 2.4),
    ),
}


def get_preset(preset: "str | SyntheticPreset") -> SyntheticPreset:
    """Returns a preset by name (or the preset itself).

    Args:
        preset: a name in `PRESETS` or a `SyntheticPreset`.

    Returns:
        The `SyntheticPreset`.

    Raises:
        ValueError: for an unknown name.

    Example:

    >>> get_preset("demo").name
    'demo'
    """
    if isinstance(preset, SyntheticPreset):
        return preset
    if preset not in PRESETS:
        raise ValueError(
            f"Unknown synthetic preset {preset!r}; choose one of {', '.join(PRESETS)} or pass a "
            "SyntheticPreset."
        )
    return PRESETS[preset]
