"""The model card written beside every export, and the training run's metadata it quotes.

``model_card.json`` holds the classes, the input contract (the window comes from the student,
`model_window`), the front-end settings, the student's configuration, file sizes, parity
figures, the probe head when one is exported (``"head"``, `kerasemo.export.head.head_card`),
and the training configuration and metrics of the distillation run when the student
sits in its run directory (``config.toml``, ``auc.json``, ``student.keras.json``,
``results.json``).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import pathlib
import tomllib
from collections.abc import Mapping
from typing import Any

from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.export.contract import (
    LENGTH_INPUT,
    LENGTHS_SIGNATURE,
    MIN_SAMPLES,
    PARITY_TOLERANCE,
    SPECTROGRAM_SIGNATURE,
    TFLITE_BATCH,
    WAVEFORM_INPUT,
    WAVEFORM_SIGNATURE,
)
from kerasemo.export.waveform_model import frontend_settings
from kerasemo.export.window import ModelWindow, model_window

logger = logging.getLogger("kerasemo.export")


def folder_size(path: pathlib.Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def read_run_metadata(run_dir: str | os.PathLike | None) -> dict:
    """Training configuration and metrics from a distill run folder, when they are there.

    Reads ``config.toml`` (the resolved experiment configuration), ``auc.json`` (ROC AUC against
    the teacher on heard and unheard identities), ``student.keras.json`` (best epoch and
    validation loss) and ``results.json`` when present; missing files are skipped.

    Returns:
        ``{"config": ..., "auc": ..., "best_checkpoint": ..., "results": ...}`` with the keys
        that were found (empty when `run_dir` is None or holds none of them).
    """
    if run_dir is None:
        return {}
    run_dir = pathlib.Path(run_dir)
    found: dict[str, Any] = {}
    sources = {
        "config": "config.toml",
        "auc": "auc.json",
        "best_checkpoint": "student.keras.json",
        "results": "results.json",
    }
    for key, name in sources.items():
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".toml"):
                found[key] = tomllib.loads(path.read_text(encoding="utf-8"))
            else:
                found[key] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            logger.warning("Skipping %s in the model card: %s", path, err)
    return found


def _training_section(run: Mapping[str, Any]) -> dict:
    section: dict[str, Any] = {
        "method": (
            "Cross-modal distillation (Albanie et al., ACM MM 2018): a face-emotion teacher "
            "labels the frames of talking-face video; the speech student learns the teacher's "
            "temperature-softened predictions from fixed-length crops of the synchronous audio. No "
            "labelled speech is used."
        ),
    }
    config = run.get("config")
    if config:
        section["preset"] = config.get("name")
        section["description"] = config.get("description")
        section["data"] = (
            "EmoVoxCeleb-style shards (talking-face tracks labelled by the face teacher), "
            f"identity-disjoint splits; preset {config.get('name')!r}"
        )
        section["config"] = config
    if "best_checkpoint" in run:
        section["best_checkpoint"] = run["best_checkpoint"]
    if "results" in run:
        section["results"] = run["results"]
    return section


def build_model_card(
    student: Any,
    *,
    files: Mapping[str, pathlib.Path],
    sizes: Mapping[str, int],
    parity: Mapping[str, Any],
    out_dir: pathlib.Path,
    run: Mapping[str, Any],
    source: Mapping[str, Any],
    hop_seconds: float | None = None,
    window: ModelWindow | None = None,
) -> dict:
    """The model card (a JSON-ready dict); see the module docstring for what it holds.

    Args:
        student: the exported (float32) `VGGMStudent`.
        files: ``{key: path}`` of what was written.
        sizes: ``{key: bytes}``.
        parity: ``{key: figures}``.
        out_dir: the export folder (paths are written relative to it).
        run: what `read_run_metadata` found.
        source: the student file's name, hash and trained precision.
        hop_seconds: the timeline hop to suggest (default 2 s).
        window: the exported window (default: `model_window` of the student and the run).

    Returns:
        The card as a dict.
    """
    from kerasemo import __version__, emotions

    if hop_seconds is None:
        hop_seconds = 2.0
    if window is None:
        window = model_window(student, run.get("config"))
    config = dict(student.get_config())
    config["conv_filters"] = list(config["conv_filters"])
    return {
        "model": "kerasemo speech emotion student (VGG-M, Albanie et al. 2018)",
        "kerasemo_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "classes": list(emotions.CLASSES),
        "outputs": {
            "logits": "[batch, 8] float32, class order as `classes`",
            "probabilities": "[batch, 8] float32, softmax(logits)",
            "embedding": "[batch, 8] float32, the paper's speech emotion embedding; identical "
            "to the logits (linear probes are fitted on them)",
        },
        "input": {
            "sample_rate": SAMPLE_RATE,
            "channels": 1,
            "dtype": "float32",
            "range": "[-1, 1] (int16-scale floats are also accepted: clips whose peak is above 1 "
            "are not rescaled)",
            "window_samples": window.samples,
            "window_seconds": window.seconds,
            "window_frames": window.frames,
            "window_source": window.source,
            "timeline_hop_seconds": hop_seconds,
            "min_samples": MIN_SAMPLES,
            "saved_model": "any length; shorter than min_samples is zero-padded in the graph; "
            f"one length per batch, or a zero-padded batch with each clip's `{LENGTH_INPUT}` "
            f"({LENGTHS_SIGNATURE})",
            "tflite": f"exactly window_samples, batch {TFLITE_BATCH}, with the clip's valid "
            f"`{LENGTH_INPUT}` (a shorter clip zero-padded to the window)",
        },
        "frontend": frontend_settings(student),
        "student": {
            "class": type(student).__name__,
            "config": config,
            "parameters": int(student.count_params()),
            "trained_precision": source.get("trained_precision"),
            "exported_precision": "float32",
        },
        "files": {
            key: {"path": os.path.relpath(path, out_dir), "bytes": int(sizes[key])}
            for key, path in files.items()
        },
        "signatures": {
            WAVEFORM_SIGNATURE: {"inputs": {WAVEFORM_INPUT: "[batch, samples] float32"}},
            LENGTHS_SIGNATURE: {
                "inputs": {
                    WAVEFORM_INPUT: "[batch, samples] float32, clips zero-padded at the end",
                    LENGTH_INPUT: "[batch] int32, each clip's valid samples (0..samples); each "
                    "clip gets the outputs it gets alone",
                }
            },
            SPECTROGRAM_SIGNATURE: {
                "inputs": {
                    "spectrogram": f"[batch, {student.input_bins}, frames] float32 linear "
                    "magnitudes (the front-end's output, unnormalised)"
                }
            },
        },
        "parity": {
            "metric": (
                "against the float32 Keras model (front-end + student): max |p - p_keras| over "
                "probabilities; max |logit - logit_keras| / max(1, max |logit_keras|); argmax "
                "agreement over clips"
            ),
            "tolerance_float32": PARITY_TOLERANCE,
            "padded_with_length": "TFLite: clips shorter than the window, zero-padded with "
            "their length, against the Keras model on each clip unpadded",
            **parity,
        },
        "training": _training_section(run),
        "metrics": {"auc_vs_teacher": run["auc"]} if "auc" in run else {},
        "source": dict(source),
    }
