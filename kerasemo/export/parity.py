"""Parity of the exported models with the float32 Keras model (front-end + student).

Figures (`compare_outputs`): the largest absolute difference of the probabilities, and of the
logits divided by ``max(1, max |logit|)`` (the "logit scale"); with a probe head also of the
head's probabilities, and the fraction of equal labels. Float32 exports must stay within
`PARITY_TOLERANCE` (1e-4) on each (`within_tolerance`). The quantised TFLite models are
reported on held-out speech-like clips (`speech_like_clips`) as the largest probability
difference and the argmax agreement. Padded clips with their lengths are compared with the
Keras model on the same clips alone and unpadded (`padded_batch`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import softmax

from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.export.contract import (
    HEAD_PROBABILITIES,
    LABEL,
    LENGTH_INPUT,
    LENGTHS_SIGNATURE,
    MIN_SAMPLES,
    PARITY_TOLERANCE,
    SPECTROGRAM_SIGNATURE,
    WAVEFORM_INPUT,
    WAVEFORM_SIGNATURE,
    padded_batch,
)
from kerasemo.export.head import ExportHead, label_strings
from kerasemo.export.precision import to_float32, with_input_frames
from kerasemo.export.waveform_model import build_waveform_model, frontend_for
from kerasemo.export.window import model_window

_HEAD_FIGURE = "max_abs_head_probability"


def keras_reference(
    model: Any,
    waveforms: np.ndarray,
    batch_size: int = 8,
    classes: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Outputs of the float32 Keras model (front-end + student) on equal-length waveforms.

    The model is called eagerly (no tracing), in batches. Clips shorter than `MIN_SAMPLES` are
    zero-padded to it, as the SavedModel does.

    Args:
        model: a `VGGMStudent`, or a model from `build_waveform_model` (cheaper when reused).
        waveforms: ``[n, samples]`` float array.
        batch_size: clips per call.
        classes: the head's class names, for a model built with a head: adds ``label``.

    Returns:
        ``{"logits", "probabilities", "embedding"}`` arrays ``[n, 8]`` float32, and whatever
        else the model returns (``head_probabilities``), plus ``label`` with `classes`.
    """
    from kerasemo.models import VGGMStudent

    if isinstance(model, VGGMStudent):
        model = build_waveform_model(model)
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.shape[1] < MIN_SAMPLES:
        waveforms = np.pad(waveforms, ((0, 0), (0, MIN_SAMPLES - waveforms.shape[1])))
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, waveforms.shape[0], batch_size):
        outputs = model(waveforms[start : start + batch_size], training=False)
        for name, value in outputs.items():
            parts.setdefault(name, []).append(np.asarray(value, dtype=np.float32))
    reference = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    if classes is not None:
        reference[LABEL] = _labels(reference[HEAD_PROBABILITIES], classes)
    return reference


def shorter_clips(clips: np.ndarray) -> list[np.ndarray]:
    """The first three of `clips` cut to 0.3 s, `MIN_SAMPLES` and half their length.

    Clips that a fixed window, or a batch of longer clips, zero-pads: the cases a ``length``
    input exists for.

    Example:

    >>> [len(c) for c in shorter_clips(np.zeros((3, 64384), "float32"))]
    [4800, 10320, 32192]
    """
    cuts = (int(0.3 * SAMPLE_RATE), MIN_SAMPLES, clips.shape[1] // 2)
    return [clips[row % len(clips), :cut] for row, cut in enumerate(cuts)]


def alone_reference(model: Any, clips: Sequence[np.ndarray], classes=None) -> dict:
    """`keras_reference` of each clip alone and unpadded, stacked: what a padded batch owes."""
    outputs = [keras_reference(model, np.asarray(clip)[None], classes=classes) for clip in clips]
    return {name: np.concatenate([o[name] for o in outputs]) for name in outputs[0]}


def compare_outputs(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """Parity figures of `candidate` against `reference` (dicts of ``[n, 8]`` outputs).

    Returns:
        ``clips``; ``max_abs_probability`` (largest |p - p_ref|); ``max_abs_logit``;
        ``logit_scale`` (``max(1, max |logit_ref|)``); ``max_rel_logit`` (``max_abs_logit /
        logit_scale``); ``argmax_agreement`` (fraction of clips with the same dominant class);
        ``max_abs_embedding_minus_logits`` (0 when the embedding output is the logits); and
        when both hold a head's outputs, ``max_abs_head_probability`` and
        ``label_agreement`` (fraction of equal labels).
    """
    p_ref = np.asarray(reference["probabilities"], np.float64)
    p = np.asarray(candidate["probabilities"], np.float64)
    l_ref = np.asarray(reference["logits"], np.float64)
    logits = np.asarray(candidate["logits"], np.float64)
    if p.shape != p_ref.shape:
        raise ValueError(f"Output shapes differ: {p.shape} vs {p_ref.shape}.")
    scale = max(1.0, float(np.max(np.abs(l_ref))))
    max_logit = float(np.max(np.abs(logits - l_ref)))
    figures = {
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
    if HEAD_PROBABILITIES in reference and HEAD_PROBABILITIES in candidate:
        head = np.asarray(candidate[HEAD_PROBABILITIES], np.float64)
        head_ref = np.asarray(reference[HEAD_PROBABILITIES], np.float64)
        figures[_HEAD_FIGURE] = float(np.max(np.abs(head - head_ref)))
    if LABEL in reference and LABEL in candidate:
        agree = label_strings(candidate[LABEL]) == label_strings(reference[LABEL])
        figures["label_agreement"] = float(np.mean(agree))
    return figures


def within_tolerance(figures: Mapping[str, float], tolerance: float = PARITY_TOLERANCE) -> bool:
    """True when probabilities, relative logits (and head probabilities, when measured) all
    deviate by at most `tolerance`."""
    keys = ("max_abs_probability", "max_rel_logit", _HEAD_FIGURE)
    return all(figures[key] <= tolerance for key in keys if key in figures)


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
    head: ExportHead | None = None,
) -> dict[str, dict[str, float]]:
    """Parity of a SavedModel's signatures with the Keras model, on several inputs.

    Inputs: white noise (3 s), speech-like clips of one training window (`window_samples`;
    None: the student's own, `model_window`), and a 0.3 s clip (padded to `MIN_SAMPLES` by both
    sides), two clips each; for `LENGTHS_SIGNATURE`, one zero-padded batch of the window's clips
    whole and cut short (`shorter_clips`) against each clip alone; for the spectrogram
    signature, the front-end's output of the speech-like clips and random magnitudes.

    Args:
        student: the exported `VGGMStudent`.
        directory: the SavedModel folder.
        seed: seed of the inputs.
        window_samples: the training window (None: `model_window`).
        head: the probe head exported with it, or None.

    Returns:
        ``{case: compare_outputs(...)}`` and ``"overall"`` (the worst case of each figure).
    """
    import tensorflow as tf

    if window_samples is None:
        window_samples = model_window(student).samples
    student = with_input_frames(to_float32(student), None)
    probe, classes = (None, None) if head is None else (head.probe, head.classes)
    model = build_waveform_model(student, head=probe)
    loaded = tf.saved_model.load(str(directory))
    rng = np.random.default_rng(seed)
    cases = {
        "noise_3s": rng.uniform(-0.5, 0.5, (2, 3 * SAMPLE_RATE)).astype(np.float32),
        "speech_window": speech_like_clips(2, window_samples, seed=seed + 2000),
        "speech_0.3s": speech_like_clips(2, int(0.3 * SAMPLE_RATE), seed=seed + 3000),
    }
    report = {}
    for name, waveforms in cases.items():
        got = loaded.signatures[WAVEFORM_SIGNATURE](**{WAVEFORM_INPUT: tf.constant(waveforms)})
        report[f"waveform/{name}"] = compare_outputs(
            keras_reference(model, waveforms, classes=classes), _numpy(got)
        )
    speech = cases["speech_window"]
    clips = [*shorter_clips(speech), speech[0]]
    batch, lengths = padded_batch(clips)
    got = loaded.signatures[LENGTHS_SIGNATURE](
        **{WAVEFORM_INPUT: tf.constant(batch), LENGTH_INPUT: tf.constant(lengths)}
    )
    report["lengths/padded_batch"] = compare_outputs(
        alone_reference(model, clips, classes), _numpy(got)
    )
    frontend = frontend_for(student)
    spectrograms = {
        "speech_window": np.asarray(frontend(cases["speech_window"])),
        "random_magnitudes": rng.gamma(2.0, 1000.0, (2, student.input_bins, 150)).astype(
            np.float32
        ),
    }
    for name, spectrogram in spectrograms.items():
        got = loaded.signatures[SPECTROGRAM_SIGNATURE](spectrogram=tf.constant(spectrogram))
        report[f"spectrogram/{name}"] = compare_outputs(
            _student_reference(student, spectrogram, head), _numpy(got)
        )
    report["overall"] = worst_case(report.values())
    return report


def _student_reference(student, spectrogram: np.ndarray, head: ExportHead | None) -> dict:
    """The Keras student's outputs on spectrograms (and its head's, with `head`)."""
    logits = np.asarray(student(spectrogram, training=False), np.float32)
    reference = {
        "logits": logits,
        "probabilities": softmax(logits, axis=-1).astype(np.float32),
        "embedding": logits,
    }
    if head is not None:
        reference[HEAD_PROBABILITIES] = head.probe.predict_proba(logits)
        reference[LABEL] = _labels(reference[HEAD_PROBABILITIES], head.classes)
    return reference


def _labels(probabilities: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The class name of each row's largest probability."""
    return np.asarray(classes)[np.asarray(probabilities).argmax(axis=1)]


def _numpy(outputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in outputs.items()}


def worst_case(figures) -> dict[str, float]:
    figures = list(figures)
    worst = {}
    for key in ("max_abs_probability", "max_abs_logit", "max_rel_logit", _HEAD_FIGURE):
        if all(key in f for f in figures):
            worst[key] = max(f[key] for f in figures)
    for key in ("argmax_agreement", "label_agreement"):
        if all(key in f for f in figures):
            worst[key] = min(f[key] for f in figures)
    worst["clips"] = sum(f["clips"] for f in figures)
    return worst
