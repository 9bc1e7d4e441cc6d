"""A contact sheet of the corpus: faces per emotion and the voice's spectrogram per emotion.

One row per emotion (`kerasemo.emotions.CLASSES` order): six faces from the FERPlus-format set
(different identities, intensity >= 0.6, no blends) and the spectrogram of one speaker saying
three seconds in that emotion (magnitude spectrogram with the VGGVox framing, shown in dB up
to 4 kHz), with the synthesiser's F0 contour on a second axis and the clip's RMS level in the
title. It is for a person to check that expressions and prosody differ recognisably.

The spectrogram is `display_spectrogram`: the VGGVox recipe of
`kerasemo.audio.vggvox_spectrogram_reference` (int16 scaling, pre-emphasis 0.97, 400-sample
frames every 160 samples, symmetric Hamming window, 512-point FFT magnitude, the 257 rfft bins,
no normalisation) without the DC-removal filter, which changes only the lowest bins of these
DC-free signals. It is reimplemented here in a few lines of NumPy because importing
`kerasemo.audio` loads Keras and TensorFlow (5-10 s), a large share of the generator's time
budget; a test checks it against the reference.
"""

from __future__ import annotations

import pathlib

import numpy as np

from kerasemo.data.synthetic.seeding import rng_for
from kerasemo.data.synthetic.trajectories import constant_trajectory
from kerasemo.data.synthetic.voice import VoiceProfile, synthesise
from kerasemo.emotions import CLASSES

FACES_PER_ROW = 6
_SPEECH_SECONDS = 3.0
_MAX_HZ = 4000.0


def display_spectrogram(waveform: np.ndarray) -> np.ndarray:
    """VGGVox-framed magnitude spectrogram ``[257, frames]`` of a 16 kHz clip (see module doc).

    Args:
        waveform: 1-D float waveform in [-1, 1], at least 400 samples.

    Returns:
        float64 ``[257, floor((L - 400) / 160) + 1]``.
    """
    x = np.asarray(waveform, np.float64) * 2.0**15
    z = np.concatenate([x[:1], x[1:] - 0.97 * x[:-1]])
    frames = np.lib.stride_tricks.sliding_window_view(z, 400)[::160]
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(400) / 399)
    return np.abs(np.fft.rfft(frames * window, 512)).T


def _pick_faces(images: np.ndarray, ground_truth: list[dict], emotion: str) -> list[np.ndarray]:
    picked = [
        images[row["row"]]
        for row in ground_truth
        if row["kind"] == "face" and row["emotion"] == emotion and not row["blend_emotion"]
        and (emotion == "neutral" or row["intensity"] >= 0.6)
    ]
    return picked[:FACES_PER_ROW]


def _display_voice() -> VoiceProfile:
    return VoiceProfile(
        name="contact-sheet", gender="f", f0_hz=200.0, accent_st=2.5, formant_scale=1.15,
        rate_sps=4.5, tilt_db_oct=0.0, breathiness=0.06, jitter=0.006, shimmer=0.04, level_db=0.0,
    )


def write_contact_sheet(
    path: pathlib.Path,
    face_images: np.ndarray,
    face_ground_truth: list[dict],
    *,
    seed: int,
    title: str = "",
) -> pathlib.Path:
    """Draws the sheet and saves it as PNG.

    Args:
        path: output PNG.
        face_images: ``[N, 48, 48]`` uint8 FERPlus-format images.
        face_ground_truth: the face set's ground-truth rows (``row``, ``kind``, ``emotion``,
            ``intensity``, ``blend_emotion``).
        seed: corpus seed (for the speech examples).
        title: a line for the figure's title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    voice = _display_voice()
    figure = Figure(figsize=(20, 15), dpi=80)
    grid = figure.add_gridspec(
        len(CLASSES), 3, width_ratios=(6.5, 0.2, 8), wspace=0.05, hspace=0.45,
        left=0.06, right=0.95, top=0.92, bottom=0.05,
    )
    size = face_images.shape[1]
    mosaic = np.full((len(CLASSES) * (size + 4), FACES_PER_ROW * (size + 4)), 255, np.uint8)
    for r, emotion in enumerate(CLASSES):
        for c, image in enumerate(_pick_faces(face_images, face_ground_truth, emotion)):
            top, left = r * (size + 4) + 2, c * (size + 4) + 2
            mosaic[top : top + size, left : left + size] = image
    axis = figure.add_subplot(grid[:, 0])
    axis.imshow(mosaic, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([(r + 0.5) * (size + 4) for r in range(len(CLASSES))], CLASSES, fontsize=14)
    axis.set_title("faces (FERPlus-format set, intensity >= 0.6)", fontsize=11)
    for r, emotion in enumerate(CLASSES):
        intensity = 0.0 if emotion == "neutral" else 0.9
        utterance = synthesise(
            voice, constant_trajectory(_SPEECH_SECONDS, emotion, intensity),
            rng=rng_for(seed, "contact_sheet", "speech"),
        )
        spectrogram = display_spectrogram(utterance.waveform)
        bins = int(_MAX_HZ / 8000.0 * 256) + 1
        decibels = 20 * np.log10(spectrogram[:bins] + 1e-3)
        axis = figure.add_subplot(grid[r, 2])
        axis.imshow(
            decibels, origin="lower", aspect="auto", cmap="magma", vmin=decibels.max() - 70,
            vmax=decibels.max(), extent=(0, spectrogram.shape[1] / 100, 0, _MAX_HZ),
        )
        axis.set_ylabel("Hz")
        rms = 20 * np.log10(np.sqrt(np.mean(utterance.waveform.astype(np.float64) ** 2)) + 1e-9)
        axis.set_title(
            f"{emotion}: F0 median {np.nanmedian(utterance.f0):.0f} Hz, level {rms:.1f} dBFS",
            fontsize=10, loc="left",
        )
        pitch = axis.twinx()
        pitch.plot(np.arange(utterance.f0.size) / 400.0, utterance.f0, color="cyan", linewidth=1.2)
        pitch.set_ylim(100, 500)
        pitch.set_ylabel("F0 (Hz)", color="cyan")
        if r == len(CLASSES) - 1:
            axis.set_xlabel("seconds")
    figure.suptitle(
        (title + "\n" if title else "")
        + "left: FERPlus-format faces per emotion; right: one speaker's voice per emotion "
        "(VGGVox magnitude spectrogram in dB, 0-4 kHz; cyan: F0)",
        fontsize=13,
    )
    path = pathlib.Path(path)
    figure.savefig(path, dpi=80, metadata={"Software": None})
    return path
