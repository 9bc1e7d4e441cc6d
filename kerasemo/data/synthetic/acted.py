"""Labelled "acted" speech sets for linear probes: an RML-like and a CREMA-D-like set.

Speakers here never appear in the talking-face tracks (their voices are drawn from their own
random streams), every class has the same number of clips per speaker, and each clip shows one
emotion throughout, at intensity 0.6-1.0 (CREMA-D's IEO sentence: LO/MD/HI = 0.5/0.75/1.0).

- **RML-like** (``<corpus>/rml``): the six classes anger, disgust, fear, happiness, sadness,
  surprise; AVI files (MJPEG face video at 25 fps, 96 x 72, and 16-bit PCM mono audio at
  22,050 Hz, so that readers exercise resampling); the folder depth differs by subject and the
  file name starts with the two-letter code (`writers.rml_relative_path`).
- **CREMA-D-like** (``<corpus>/cremad/AudioWAV``): CREMA-D's own six classes (anger, disgust,
  fear, happiness, neutral, sadness: neutral instead of surprise), 16 kHz WAV named
  ``<actor>_<sentence>_<EMO>_<level>.wav`` with actors from 1001.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

import numpy as np

from kerasemo.data.synthetic import faces, media, writers
from kerasemo.data.synthetic.presets import SyntheticPreset
from kerasemo.data.synthetic.seeding import rng_for
from kerasemo.data.synthetic.trajectories import constant_trajectory
from kerasemo.data.synthetic.voice import sample_voice, synthesise
from kerasemo.emotions import CLASSES, class_index
from kerasemo.progress import progress_bar

logger = logging.getLogger(__name__)

RML_EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
CREMAD_EMOTIONS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
RML_SAMPLE_RATE = 22050
CREMAD_SAMPLE_RATE = 16000
RML_VIDEO_SIZE = (96, 72)
RML_FPS = 25
_KEYFRAME_STRIDE = 4  # RML faces are rendered every 4th frame and held in between
_LEVEL_INTENSITY = {"LO": 0.5, "MD": 0.75, "HI": 1.0}


@dataclasses.dataclass
class ActedSet:
    ground_truth: list[dict]
    rml_clips: int
    cremad_clips: int
    audio_seconds: float


def _rml_video(rng, identity, emotion: str, intensity: float, utterance, background: float) -> np.ndarray:
    width, height = RML_VIDEO_SIZE
    n_frames = int(round(utterance.duration * RML_FPS))
    keys = np.arange(0, n_frames, _KEYFRAME_STRIDE)
    times = keys / RML_FPS
    weights = np.zeros((keys.size, len(CLASSES)), np.float32)
    weights[:, class_index(emotion)] = intensity * np.clip(times / 0.3, 0.0, 1.0)  # onset
    identities = np.repeat(identity, keys.size)
    actions = faces.expression_actions(weights, identities)
    actions[:, faces.ACTIONS.index("mouth_open")] += 0.3 * utterance.mouth_opening(times)
    pose = np.zeros(keys.size, faces.POSE_DTYPE)
    pose["cx"] = width / 2 - 0.5 + rng.normal(0, 1.0, keys.size)
    pose["cy"] = height / 2 + 2 + rng.normal(0, 1.0, keys.size)
    pose["scale"] = 0.42 * height
    pose["angle"] = np.deg2rad(rng.normal(0, 2.0, keys.size))
    pose["side"] = 1.0
    rendered = faces.render_faces(
        identities, actions, pose, height=height, width=width, background=np.full(keys.size, background)
    )
    rendered += 2.5 * rng.standard_normal(rendered.shape, dtype=np.float32)
    frames = np.clip(np.round(rendered), 0, 255).astype(np.uint8)
    return np.repeat(frames, _KEYFRAME_STRIDE, axis=0)[:n_frames]


def generate_acted(
    corpus: pathlib.Path, preset: SyntheticPreset, seed: int, *, progress: bool = False
) -> ActedSet:
    """Writes the RML-like and CREMA-D-like sets below `corpus`.

    Args:
        corpus: the corpus root (``rml/`` and ``cremad/`` are created in it).
        preset: sizes.
        seed: corpus seed.
        progress: show a progress bar (drawn only on a terminal).

    Returns:
        An `ActedSet` with one ground-truth dict per clip (paths relative to `corpus`).
    """
    rows: list[dict] = []
    seconds = 0.0
    total = preset.rml_subjects * len(RML_EMOTIONS) * preset.rml_clips_per_emotion
    total += preset.cremad_actors * len(CREMAD_EMOTIONS) * preset.cremad_clips_per_emotion
    bar = progress_bar(total=total, enabled=progress, desc="acted clips", unit="clip", leave=False)
    for subject in range(preset.rml_subjects):
        rng_s = rng_for(seed, "rml", "subject", subject)
        voice = sample_voice(rng_s, f"s{subject + 1}", "m" if subject % 2 == 0 else "f")
        identity = faces.sample_identities(rng_s, 1)
        background = float(rng_s.uniform(40, 220))
        for e, emotion in enumerate(RML_EMOTIONS):
            for take in range(preset.rml_clips_per_emotion):
                rng_c = rng_for(seed, "rml", "clip", subject, e, take)
                duration = float(rng_c.uniform(*preset.acted_seconds))
                intensity = float(rng_c.uniform(0.6, 1.0))
                utterance = synthesise(
                    voice, constant_trajectory(duration, emotion, intensity), rng=rng_c,
                    sample_rate=RML_SAMPLE_RATE, noise_floor_db=-66.0,
                )
                relative = pathlib.PurePosixPath("rml") / writers.rml_relative_path(subject, emotion, take)
                frames = _rml_video(rng_c, identity, emotion, intensity, utterance, background)
                media.write_video(
                    corpus / relative, frames, utterance.waveform, media.AVI,
                    fps=RML_FPS, sample_rate=RML_SAMPLE_RATE,
                )
                rows.append(_row("rml", relative, voice, emotion, intensity, "", RML_SAMPLE_RATE, duration))
                seconds += duration
                bar.update()
    sentences = writers.CREMAD_SENTENCES
    for index in range(preset.cremad_actors):
        actor = 1001 + index
        rng_a = rng_for(seed, "cremad", "actor", index)
        voice = sample_voice(rng_a, str(actor), "f" if index % 2 == 0 else "m")
        for e, emotion in enumerate(CREMAD_EMOTIONS):
            for take in range(preset.cremad_clips_per_emotion):
                rng_c = rng_for(seed, "cremad", "clip", index, e, take)
                sentence = sentences[(take + index) % len(sentences)]
                level = "XX"
                intensity = float(rng_c.uniform(0.6, 1.0))
                if sentence == "IEO" and emotion != "neutral":
                    level = writers.CREMAD_LEVELS[take % 3]
                    intensity = _LEVEL_INTENSITY[level]
                duration = float(rng_c.uniform(*preset.acted_seconds))
                utterance = synthesise(
                    voice, constant_trajectory(duration, emotion, intensity), rng=rng_c,
                    sample_rate=CREMAD_SAMPLE_RATE, noise_floor_db=-66.0,
                )
                relative = pathlib.PurePosixPath(
                    "cremad", "AudioWAV", writers.cremad_filename(actor, sentence, emotion, level)
                )
                media.write_wav(corpus / relative, utterance.waveform, CREMAD_SAMPLE_RATE)
                rows.append(
                    _row("cremad", relative, voice, emotion, intensity, level, CREMAD_SAMPLE_RATE, duration)
                )
                seconds += duration
                bar.update()
    bar.close()
    rml = sum(r["dataset"] == "rml" for r in rows)
    logger.info(
        "Acted sets: %d RML-like clips, %d CREMA-D-like clips, %.1f min.", rml, len(rows) - rml, seconds / 60
    )
    return ActedSet(rows, rml, len(rows) - rml, seconds)


def _row(dataset, relative, voice, emotion, intensity, level, sample_rate, duration) -> dict:
    return {
        "dataset": dataset,
        "path": str(relative),
        "speaker": voice.name,
        "gender": voice.gender,
        "emotion": emotion,
        "intensity": intensity,
        "level": level,
        "sample_rate": sample_rate,
        "seconds": duration,
    }
