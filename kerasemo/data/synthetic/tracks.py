"""Talking-face tracks in the VoxCeleb1 layout: audio, face-track txt, face crops, optional mp4.

For each identity (``id10001``, ...) the generator draws a voice (`voice.sample_voice`), a face
(`faces.sample_identities`) and an emotional bias (`trajectories.sample_bias`); for each of its
videos (an 11-character id) a recording channel (gain, noise floor), lighting, framing and a
face box; for each track a duration, a latent emotion trajectory, the voice speaking along it,
and the face showing it. Files written below ``<corpus>/voxceleb``::

    wav/<identity>/<video>/<track>.wav                 16 kHz mono PCM16
    txt/<identity>/<video>/<track>.txt                 VoxCeleb1 face-track file (25 fps boxes)
    frames/<identity>/1.6/<video>/<track>/<frame>.jpg  face crops, every 6th frame (0.24 s)
    video/<identity>/<video>/<track>.mp4               optional: H.264 + AAC, all frames
    vox1_meta.csv                                      identities (VoxCeleb1's meta format)

Frame numbers are absolute video frame numbers (the txt ``FRAME`` column; a track starts
wherever its video's previous track ended plus a gap). A crop is written for track frames
0, 6, 12, ... (``<frame>`` zero-padded to 7 digits). The face in a crop shows the trajectory's
face emotion at that time, reduced to near-neutral inside **transition dips** (short intervals
covering ``transition_frame_probability`` of the time; the paper's Figure 2), plus a mouth that
opens with the voice's syllables.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import string

import numpy as np

from kerasemo.data.frames import FRAME_STRIDE, VIDEO_FPS
from kerasemo.data.synthetic import faces, media, writers
from kerasemo.data.synthetic.presets import SyntheticPreset
from kerasemo.data.synthetic.seeding import rng_for
from kerasemo.data.synthetic.trajectories import sample_bias, sample_trajectory
from kerasemo.data.synthetic.voice import sample_voice, synthesise
from kerasemo.emotions import CLASSES
from kerasemo.progress import progress_bar

logger = logging.getLogger(__name__)

FPS = int(VIDEO_FPS)
"""Video frame rate of the tracks (VoxCeleb's, `kerasemo.data.frames.VIDEO_FPS`), as an int for
the video writer."""
# A face crop is written every FRAME_STRIDE frames (0.24 s at 25 fps), as the builder reads them.
SAMPLE_RATE = 16000
CROP_FOLDER = "1.6"
"""The authors' frame folders sit in a ``1.6`` sub-folder (their crop-expansion setting)."""
FIRST_IDENTITY = 10001
TALKING_MOUTH = 0.3
"""How far the mouth opens on a syllable (in `faces` action units)."""
_VIDEO_ID_ALPHABET = string.ascii_letters + string.digits + "-_"
_NATIONALITIES = (
    "UK", "USA", "India", "Canada", "Australia", "Ireland", "Germany", "France", "Spain", "Italy",
)


@dataclasses.dataclass
class TrackSet:
    """What was written: ground-truth rows and counts."""

    segments: list[dict]
    frames: list[dict]
    identities: list[dict]
    num_videos: int
    num_tracks: int
    audio_seconds: float
    short_tracks: int


def identity_name(index: int) -> str:
    """VoxCeleb1-style identity of the `index`-th speaker: ``id10001``, ``id10002``, ..."""
    return f"id{FIRST_IDENTITY + index:05d}"


def _video_id(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(_VIDEO_ID_ALPHABET), 11))


def _smooth_walk(rng: np.random.Generator, times: np.ndarray, spacing: float, scale: float) -> np.ndarray:
    knots = rng.normal(0.0, scale, int(times[-1] / spacing) + 3 if times.size else 3)
    return np.interp(times, np.arange(knots.size) * spacing, knots)


def _boxes(rng, n_frames: int, size: float, x: float, y: float) -> np.ndarray:
    """Face boxes ``[n, 4]`` (x, y, w, h) in pixels of a 640 x 360 frame: drift plus jitter."""
    t = np.arange(n_frames) / FPS
    side = size * (1.0 + _smooth_walk(rng, t, 1.0, 0.04))
    cx = x + size / 2 + _smooth_walk(rng, t, 0.6, 0.06 * size) + rng.normal(0, 0.8, n_frames)
    cy = y + size / 2 + _smooth_walk(rng, t, 0.6, 0.04 * size) + rng.normal(0, 0.8, n_frames)
    side = np.clip(side, 40, writers.BOX_FRAME_HEIGHT - 4)
    left = np.clip(cx - side / 2, 0, writers.BOX_FRAME_WIDTH - side)
    top = np.clip(cy - side / 2, 0, writers.BOX_FRAME_HEIGHT - side)
    return np.round(np.stack([left, top, side, side], axis=1)).astype(int)


def _dip_factor(rng, duration: float, fraction: float, times: np.ndarray) -> np.ndarray:
    """Expression factor over time: 1, except inside short near-neutral transition dips."""
    factor = np.ones_like(times, dtype=np.float32)
    if fraction <= 0:
        return factor
    mean_length = 0.2
    count = rng.poisson(fraction * duration / mean_length)
    for _ in range(count):
        start = rng.uniform(-0.1, duration)
        length = rng.uniform(0.1, 0.3)
        inside = (times >= start) & (times < start + length)
        factor[inside] = np.minimum(factor[inside], rng.uniform(0.0, 0.25))
    return factor


def _face_batch(
    identity: np.ndarray, weights: np.ndarray, mouth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    identities = np.repeat(identity, weights.shape[0])
    actions = faces.expression_actions(weights, identities)
    actions[:, faces.ACTIONS.index("mouth_open")] += TALKING_MOUTH * mouth
    return identities, actions


# Long on purpose: one pass per identity writes all its tracks from shared arrays.
def generate_tracks(
    root: pathlib.Path, preset: SyntheticPreset, seed: int, *, progress: bool = False
) -> TrackSet:
    """Writes every identity's tracks below `root` (``<corpus>/voxceleb``).

    Args:
        root: output folder.
        preset: sizes and rates.
        seed: corpus seed.
        progress: show a progress bar (one step per identity; drawn only on a terminal).

    Returns:
        A `TrackSet` with the ground-truth rows.
    """
    crop = preset.frame_crop_size
    video_w, video_h = preset.video_size
    video_scale = video_h / writers.BOX_FRAME_HEIGHT
    segments, frame_rows, identity_rows, meta_rows = [], [], [], []
    num_videos = num_tracks = short_tracks = 0
    audio_seconds = 0.0
    bar = progress_bar(
        range(preset.num_identities), enabled=progress, desc="VoxCeleb tracks", unit="identity", leave=False
    )
    for i in bar:
        name = identity_name(i)
        rng_i = rng_for(seed, "voxceleb", "identity", i)
        gender = "m" if rng_i.random() < 0.5 else "f"
        voice = sample_voice(rng_i, name, gender)
        face_identity = faces.sample_identities(rng_i, 1)
        bias = sample_bias(rng_i, preset.episode_fraction)
        corner_side = 1.0 if rng_i.random() < 0.5 else -1.0
        nationality = str(rng_i.choice(_NATIONALITIES))
        meta_rows.append((name, f"Synthetic_Speaker_{i + 1:04d}", gender, nationality, "dev"))
        identity_rows.append(
            {
                "identity": name, "gender": gender, "f0_hz": voice.f0_hz,
                "formant_scale": voice.formant_scale, "rate_sps": voice.rate_sps,
                "signature_emotion": bias.signature, "episode_fraction": bias.episode_fraction,
                **{f"prior_{c}": p for c, p in zip(CLASSES, bias.prior)},
            }
        )
        used_videos: set[str] = set()
        for v in range(int(rng_i.integers(preset.videos_per_identity[0], preset.videos_per_identity[1] + 1))):
            rng_v = rng_for(seed, "voxceleb", "video", i, v)
            video = _video_id(rng_v)
            while video in used_videos:
                video = _video_id(rng_v)
            used_videos.add(video)
            num_videos += 1
            channel_gain = float(rng_v.uniform(-5.0, 5.0))
            noise_floor = float(rng_v.uniform(-68.0, -52.0))
            lit = face_identity.copy()
            lit["light_x"], lit["light_y"] = rng_v.uniform(-1, 1), rng_v.uniform(-1, 0.3)
            background = float(rng_v.uniform(20, 230))
            gradient = rng_v.uniform(-40, 40, 2)
            crop_scale = float(rng_v.uniform(0.36, 0.43)) * crop
            box_size = float(rng_v.uniform(90, 170))
            box_x = float(rng_v.uniform(20, writers.BOX_FRAME_WIDTH - box_size - 20))
            box_y = float(rng_v.uniform(10, writers.BOX_FRAME_HEIGHT - box_size - 10))
            cursor = int(rng_v.integers(0, 300))
            for k in range(int(rng_v.integers(preset.tracks_per_video[0], preset.tracks_per_video[1] + 1))):
                rng_t = rng_for(seed, "voxceleb", "track", i, v, k)
                track = f"{k + 1:05d}"
                short = rng_t.random() < preset.short_track_fraction
                seconds = rng_t.uniform(1.5, 3.9) if short else rng_t.uniform(*preset.track_seconds)
                n_frames = max(int(round(seconds * FPS)), 38)
                duration = n_frames / FPS
                short_tracks += int(duration < 4.0)
                trajectory = sample_trajectory(
                    rng_t, duration, bias, episode_seconds=preset.episode_seconds,
                    voice_face_mismatch=preset.voice_face_mismatch,
                )
                utterance = synthesise(
                    voice, trajectory, rng=rng_t, channel_gain_db=channel_gain, noise_floor_db=noise_floor
                )
                first = cursor
                cursor += n_frames + int(rng_t.integers(10, 250))
                boxes = _boxes(rng_t, n_frames, box_size, box_x, box_y)
                all_times = np.arange(n_frames) / FPS
                dips = _dip_factor(rng_t, duration, preset.transition_frame_probability, all_times)
                angle = np.deg2rad(_smooth_walk(rng_t, all_times, 1.0, 4.0))

                # Face crops every FRAME_STRIDE frames.
                offsets = np.arange(0, n_frames, FRAME_STRIDE)
                times = offsets / FPS
                latent = trajectory.weights(times, "face")
                shown = latent.copy()
                shown[:, 1:] *= dips[offsets, None]
                shown[:, 0] = 1.0 - shown[:, 1:].sum(axis=1)
                identities, actions = _face_batch(lit, shown, utterance.mouth_opening(times))
                pose = np.zeros(offsets.size, faces.POSE_DTYPE)
                pose["cx"] = crop / 2 - 0.5 + rng_t.normal(0, 0.02 * crop, offsets.size)
                pose["cy"] = crop / 2 - 0.5 + 0.03 * crop + rng_t.normal(0, 0.02 * crop, offsets.size)
                pose["scale"] = crop_scale * (1.0 + rng_t.normal(0, 0.02, offsets.size))
                pose["angle"] = angle[offsets]
                pose["side"] = corner_side
                images = faces.render_faces(
                    identities, actions, pose, height=crop, width=crop,
                    background=np.full(offsets.size, background),
                    background_gradient=np.repeat(gradient[None], offsets.size, axis=0),
                )
                images += rng_t.uniform(1.5, 5.0) * rng_t.standard_normal(images.shape, dtype=np.float32)
                images = np.clip(np.round(images), 0, 255).astype(np.uint8)
                crop_dir = root / "frames" / name / CROP_FOLDER / video / track
                for offset, image, w_shown, w_latent in zip(offsets, images, shown, latent):
                    frame = first + int(offset)
                    media.write_jpeg(crop_dir / f"{frame:07d}.jpg", image)
                    frame_rows.append(
                        {
                            "identity": name, "video": video, "track": track, "frame": frame,
                            "time": offset / FPS,
                            "shown_emotion": CLASSES[int(np.argmax(w_shown))],
                            "shown_intensity": float(w_shown[1:].max()),
                            "latent_face_emotion": CLASSES[int(np.argmax(w_latent))],
                            "transition": bool(dips[offset] < 0.5 and w_latent[1:].max() > 0.2),
                        }
                    )

                # Audio, face-track file, optional video.
                media.write_wav(root / "wav" / name / video / f"{track}.wav", utterance.waveform, SAMPLE_RATE)
                frame_boxes = [(first + j, *boxes[j]) for j in range(n_frames)]
                writers.write_text(
                    root / "txt" / name / video / f"{track}.txt",
                    writers.track_txt(
                        name, video, frame_boxes, fv_conf=float(rng_t.uniform(12, 22)),
                        asd_conf=float(rng_t.uniform(2, 8)),
                    ),
                )
                if preset.write_videos:
                    weights = trajectory.weights(all_times, "face")
                    weights[:, 1:] *= dips[:, None]
                    identities, actions = _face_batch(lit, weights, utterance.mouth_opening(all_times))
                    pose = np.zeros(n_frames, faces.POSE_DTYPE)
                    pose["cx"] = (boxes[:, 0] + boxes[:, 2] / 2) * video_scale
                    pose["cy"] = (boxes[:, 1] + boxes[:, 3] / 2) * video_scale
                    pose["scale"] = boxes[:, 3] * video_scale / 2.2
                    pose["angle"] = angle
                    pose["side"] = corner_side
                    frames = faces.render_faces(
                        identities, actions, pose, height=video_h, width=video_w,
                        background=np.full(n_frames, background),
                        background_gradient=np.repeat(gradient[None], n_frames, axis=0),
                    )
                    media.write_video(
                        root / "video" / name / video / f"{track}.mp4",
                        np.clip(np.round(frames), 0, 255).astype(np.uint8), utterance.waveform,
                        media.MP4, fps=FPS, sample_rate=SAMPLE_RATE,
                    )

                for row in trajectory.segments():
                    segments.append(
                        {
                            "identity": name, "video": video, "track": track,
                            "track_first_frame": first, "track_seconds": duration, **row,
                        }
                    )
                num_tracks += 1
                audio_seconds += duration
    writers.write_table(root / "vox1_meta.csv", writers.VOX1_META_HEADER, meta_rows, delimiter="\t")
    logger.info(
        "VoxCeleb tracks: %d identities, %d videos, %d tracks, %.1f min of audio, %d face crops.",
        preset.num_identities, num_videos, num_tracks, audio_seconds / 60, len(frame_rows),
    )
    return TrackSet(segments, frame_rows, identity_rows, num_videos, num_tracks, audio_seconds, short_tracks)
