"""Parity of the exported models with the float32 Keras model (front-end + student).

Figures (`compare_outputs`): the largest absolute difference of the probabilities, and of the
logits divided by ``max(1, max |logit|)`` (the "logit scale"); float32 exports must stay within
`PARITY_TOLERANCE` (1e-4) on both (`within_tolerance`). The quantised TFLite models are reported
on held-out speech-like clips (`speech_like_clips`) as the largest probability difference and
the argmax agreement.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import softmax

from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.export.contract import (
    MIN_SAMPLES,
    OUTPUT_NAMES,
    PARITY_TOLERANCE,
    SPECTROGRAM_SIGNATURE,
    WAVEFORM_SIGNATURE,
)
from kerasemo.export.precision import to_float32, with_input_frames
from kerasemo.export.waveform_model import build_waveform_model, frontend_for
from kerasemo.export.window import model_window


def keras_reference(
    model: Any, waveforms: np.ndarray, batch_size: int = 8
) -> dict[str, np.ndarray]:
    """Outputs of the float32 Keras model (front-end + student) on equal-length waveforms.

    The model is called eagerly (no tracing), in batches. Clips shorter than `MIN_SAMPLES` are
    zero-padded to it, as the SavedModel does.

    Args:
        model: a `VGGMStudent`, or a model from `build_waveform_model` (cheaper when reused).
        waveforms: ``[n, samples]`` float array.
        batch_size: clips per call.

    Returns:
        ``{"logits", "probabilities", "embedding"}`` arrays ``[n, 8]`` float32.
    """
    from kerasemo.models import VGGMStudent

    if isinstance(model, VGGMStudent):
        model = build_waveform_model(model)
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.shape[1] < MIN_SAMPLES:
        waveforms = np.pad(waveforms, ((0, 0), (0, MIN_SAMPLES - waveforms.shape[1])))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_NAMES}
    for start in range(0, waveforms.shape[0], batch_size):
        outputs = model(waveforms[start : start + batch_size], training=False)
        for name in OUTPUT_NAMES:
            parts[name].append(np.asarray(outputs[name], dtype=np.float32))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def compare_outputs(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Parity figures of `candidate` against `reference` (dicts of ``[n, 8]`` outputs).

    Returns:
        ``clips``; ``max_abs_probability`` (largest |p - p_ref|); ``max_abs_logit``;
        ``logit_scale`` (``max(1, max |logit_ref|)``); ``max_rel_logit`` (``max_abs_logit /
        logit_scale``); ``argmax_agreement`` (fraction of clips with the same dominant class);
        ``max_abs_embedding_minus_logits`` (0 when the embedding output is the logits).
    """
    p_ref = np.asarray(reference["probabilities"], np.float64)
    p = np.asarray(candidate["probabilities"], np.float64)
    l_ref = np.asarray(reference["logits"], np.float64)
    logits = np.asarray(candidate["logits"], np.float64)
    if p.shape != p_ref.shape:
        raise ValueError(f"Output shapes differ: {p.shape} vs {p_ref.shape}.")
    scale = max(1.0, float(np.max(np.abs(l_ref))))
    max_logit = float(np.max(np.abs(logits - l_ref)))
    return {
        "clips": int(p.shape[0]),
        "max_abs_probability": float(np.max(np.abs(p - p_ref))),
        "max_abs_logit": max_logit,
        "logit_scale": scale,
        "max_rel_logit": max_logit / scale,
        "argmax_agreement": float(np.mean(np.argmax(p, 1) == np.argmax(p_ref, 1))),
        "max_abs_embedding_minus_logits": float(
            np.max(np.abs(np.asarray(candidate["embedding"], np.float64) - logits))
        ),
    }


def within_tolerance(figures: Mapping[str, float], tolerance: float = PARITY_TOLERANCE) -> bool:
    """True when probabilities and relative logits both deviate by at most `tolerance`."""
    return figures["max_abs_probability"] <= tolerance and figures["max_rel_logit"] <= tolerance


def speech_like_clips(count: int, num_samples: int, seed: int = 1000) -> np.ndarray:
    """A held-out set of ``[count, num_samples]`` speech-like clips (varied seed, F0, level).

    The clips come from `kerasemo.audio.signals.speech_like_signal` with seeds ``seed + i``,
    mean F0 spread over 90-260 Hz and peaks over 0.2-0.9; the seeds start far from the ones
    tests and demos train on.
    """
    from kerasemo.audio.signals import speech_like_signal

    rng = np.random.default_rng(seed)
    clips = [
        speech_like_signal(
            num_samples / SAMPLE_RATE,
            seed=seed + index,
            f0=float(rng.uniform(90.0, 260.0)),
            peak=float(rng.uniform(0.2, 0.9)),
        )[:num_samples]
        for index in range(count)
    ]
    return np.stack(clips).astype(np.float32)


def saved_model_parity(
    student: Any,
    directory: str | os.PathLike,
    seed: int = 0,
    window_samples: int | None = None,
) -> dict[str, dict[str, float]]:
    """Parity of a SavedModel's two signatures with the Keras model, on several inputs.

    Inputs: white noise (3 s), speech-like clips of one training window (`window_samples`;
    None: the student's own, `model_window`), and a 0.3 s clip (padded to `MIN_SAMPLES` by both
    sides), two clips each; for the spectrogram signature, the front-end's output of the
    speech-like clips and random magnitudes.

    Returns:
        ``{case: compare_outputs(...)}`` and ``"overall"`` (the worst case of each figure).
    """
    import tensorflow as tf

    if window_samples is None:
        window_samples = model_window(student).samples
    student = with_input_frames(to_float32(student), None)
    model = build_waveform_model(student)
    loaded = tf.saved_model.load(str(directory))
    waveform_fn = loaded.signatures[WAVEFORM_SIGNATURE]
    spectrogram_fn = loaded.signatures[SPECTROGRAM_SIGNATURE]
    rng = np.random.default_rng(seed)
    cases = {
        "noise_3s": rng.uniform(-0.5, 0.5, (2, 3 * SAMPLE_RATE)).astype(np.float32),
        "speech_window": speech_like_clips(2, window_samples, seed=seed + 2000),
        "speech_0.3s": speech_like_clips(2, int(0.3 * SAMPLE_RATE), seed=seed + 3000),
    }
    report = {}
    for name, waveforms in cases.items():
        got = waveform_fn(waveform=tf.constant(waveforms))
        report[f"waveform/{name}"] = compare_outputs(
            keras_reference(model, waveforms), {k: v.numpy() for k, v in got.items()}
        )
    frontend = frontend_for(student)
    spectrograms = {
        "speech_window": np.asarray(frontend(cases["speech_window"])),
        "random_magnitudes": rng.gamma(2.0, 1000.0, (2, student.input_bins, 150)).astype(
            np.float32
        ),
    }
    for name, spectrogram in spectrograms.items():
        logits = np.asarray(student(spectrogram, training=False), np.float32)
        probabilities = softmax(logits, axis=-1).astype(np.float32)
        reference = {"logits": logits, "probabilities": probabilities, "embedding": logits}
        got = spectrogram_fn(spectrogram=tf.constant(spectrogram))
        report[f"spectrogram/{name}"] = compare_outputs(
            reference, {k: v.numpy() for k, v in got.items()}
        )
    report["overall"] = _worst(report.values())
    return report


def _worst(figures) -> dict[str, float]:
    figures = list(figures)
    worst = {}
    for key in ("max_abs_probability", "max_abs_logit", "max_rel_logit"):
        worst[key] = max(f[key] for f in figures)
    worst["argmax_agreement"] = min(f["argmax_agreement"] for f in figures)
    worst["clips"] = sum(f["clips"] for f in figures)
    return worst
