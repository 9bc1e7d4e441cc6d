"""Benchmark section ``probe``: embedding extraction speed and probe fitting time.

`measure(args)` returns `kerasemo.benchmarks.harness.Figure` rows:

- **Embedding extraction real-time factor**: seconds of audio embedded per second of wall time
  by `kerasemo.evaluation.probing.compute_student_embeddings` (decode a 16 kHz wav, VGGVox
  spectrogram, student forward pass on the full-length utterance, exact batching), for a student
  of the experiment's size (the paper preset by default: VGG-M, 257 rfft bins mirrored to 512
  inside the model, as `distill` builds it), on 2-6 s clips like the acted sets'. Median over
  ``args.repeats`` runs after one warm-up.
- **Probe fit time, 10 folds**: `LinearProbe` (scikit-learn newton-cholesky) against
  scikit-learn's ``LogisticRegression(C=np.inf)`` (unregularised multinomial, lbfgs) on
  standardised data of the RML size (720 clips, 8-d, 6 classes), the same 10 random folds;
  their ratio (< 1: the Keras probe is faster), and the difference of their mean accuracies.

Example:

>>> import argparse
>>> from kerasemo.benchmarks.probe import measure
>>> from kerasemo.config import load_config
>>> figures = measure(argparse.Namespace(repeats=3, experiment=load_config("paper")))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time

import numpy as np

from kerasemo.benchmarks.harness import Figure

logger = logging.getLogger(__name__)

NAME = "probe"
TITLE = "Linear probes: embedding extraction speed, probe fit vs scikit-learn"

_CLIP_SECONDS = (2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0)


def _embedding_rtf(experiment, repeats: int) -> list[Figure]:
    import pathlib

    import soundfile

    from kerasemo.audio.signals import speech_like_signal
    from kerasemo.evaluation.probing import compute_student_embeddings
    from kerasemo.models import VGGMStudent

    settings = experiment.student
    student = VGGMStudent(
        input_bins=257,
        mirror_input=experiment.frontend.mirror,
        conv_filters=settings.conv_filters,
        fc6_units=settings.fc6_units,
        fc7_units=settings.fc7_units,
    )
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, seconds in enumerate(_CLIP_SECONDS):
            path = pathlib.Path(folder) / f"clip{index}.wav"
            soundfile.write(path, speech_like_signal(seconds, seed=index), 16000, subtype="PCM_16")
            paths.append(str(path))
        audio_seconds = float(sum(_CLIP_SECONDS))
        compute_student_embeddings(student, paths[:2], durations=_CLIP_SECONDS[:2], progress=False)
        times = []
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            result = compute_student_embeddings(student, paths, durations=_CLIP_SECONDS, progress=False)
            times.append(time.perf_counter() - start)
            if not result.valid.all():
                raise RuntimeError(
                    f"{int((~result.valid).sum())} of {len(paths)} benchmark clips gave no "
                    f"embedding (errors: {result.errors}); the clips are 2-6 s speech-like wavs, "
                    "which every student can embed"
                )
    seconds = statistics.median(times)
    return [
        Figure(
            "student embedding extraction",
            audio_seconds / seconds,
            "x real time",
            note=f"{experiment.name} preset student, {len(_CLIP_SECONDS)} clips of 2-6 s "
            f"({audio_seconds:.0f} s of 16 kHz wav): decode + spectrogram + forward, full length, "
            f"exact batching; median of {len(times)} runs ({seconds:.2f} s)",
        )
    ]


def _probe_fit_ratio(repeats: int) -> list[Figure]:
    import warnings

    from sklearn.linear_model import LogisticRegression

    from kerasemo.evaluation.probing import random_folds
    from kerasemo.models.probe import LinearProbe

    rng = np.random.default_rng(0)
    num_clips, dims, classes = 720, 8, 6
    centres = rng.normal(scale=0.8, size=(classes, dims))
    labels = np.repeat(np.arange(classes), num_clips // classes)
    features = (centres[labels] + rng.normal(size=(num_clips, dims))).astype(np.float32)
    plan = random_folds(num_clips, 10, seed=0)
    splits = list(plan.splits(num_clips))
    probe = LinearProbe(num_classes=classes)
    probe.fit(features[:100], labels[:100])  # build once, outside the timing

    def ours():
        hits = []
        for train, test in splits:
            probe.fit(features[train], labels[train])
            hits.append(np.mean(probe.predict_labels(features[test]) == labels[test]))
        return float(np.mean(hits))

    def reference():
        hits = []
        for train, test in splits:
            mean, std = features[train].mean(0), features[train].std(0)
            model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=10000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit((features[train] - mean) / std, labels[train])
            hits.append(np.mean(model.predict((features[test] - mean) / std) == labels[test]))
        return float(np.mean(hits))

    def timed(fn):
        fn()
        times, value = [], None
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times), value

    ours_seconds, ours_accuracy = timed(ours)
    sklearn_seconds, sklearn_accuracy = timed(reference)
    return [
        Figure(
            "LinearProbe fit + predict, 10 folds",
            ours_seconds,
            "s",
            note="720 x 8, 6 classes (RML size); scikit-learn LogisticRegression(C=inf, "
            "newton-cholesky), weights loaded into Keras",
        ),
        Figure(
            "scikit-learn LogisticRegression(C=inf), 10 folds",
            sklearn_seconds,
            "s",
            note="same folds, standardised inputs, lbfgs",
        ),
        Figure(
            "LinearProbe / scikit-learn fit time",
            ours_seconds / sklearn_seconds,
            "ratio",
        ),
        Figure(
            "LinearProbe - scikit-learn mean accuracy",
            100 * (ours_accuracy - sklearn_accuracy),
            "points",
            goal="within 1 point",
            met=abs(ours_accuracy - sklearn_accuracy) <= 0.01,
            note=f"{100 * ours_accuracy:.2f} % vs {100 * sklearn_accuracy:.2f} %",
        ),
    ]


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measures the probe stage's figures.

    Args:
        args: an object with ``repeats`` (timed repeats, >= 1) and ``experiment`` (a
            `kerasemo.config.ExperimentConfig`; its student size is used, the paper's by default).

    Returns:
        A list of `Figure`.
    """
    figures = []
    logger.info("probe: student embedding extraction (%s preset) ...", args.experiment.name)
    figures += _embedding_rtf(args.experiment, args.repeats)
    logger.info("probe: LinearProbe vs scikit-learn, 10 folds ...")
    figures += _probe_fit_ratio(args.repeats)
    return figures
