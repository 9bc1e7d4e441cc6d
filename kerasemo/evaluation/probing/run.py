"""`run_probe`: the probe stage from a labelled folder to the results table and figures.

It reads a labelled set (`kerasemo.data.acted.read_dataset`), computes one feature vector per
clip for every method (student embeddings, teacher features, eGeMAPS), cross-validates a
classifier on each with the same folds, and writes the results table (``results.md``,
``results.json``: accuracy, UAR and macro-F1), the per-clip predictions (``predictions.csv``),
the teacher/student confusion matrices (``confusion.png``) and, when asked, a probe head fitted
on every clip (``head_dir``, `kerasemo.models.probe_head.save_probe_head`).

Example:

```python
results = run_probe("rml", "/data/rml", "runs/distill/student.keras",
                    teacher="runs/teacher/teacher.keras", out_dir="runs/probe-rml")
results.score("student", "random10", "uar")   # (mean, std)
```
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import time

import numpy as np

from kerasemo.evaluation.probing import acoustic_features
from kerasemo.evaluation.probing.acoustic_features import compute_egemaps, import_opensmile
from kerasemo.evaluation.probing.cache import (
    FeatureSet,
    cache_key,
    cached_features,
    files_fingerprint,
)
from kerasemo.evaluation.probing.classifiers import cross_validate, fit_predict_forest
from kerasemo.evaluation.probing.folds import FoldPlan, make_folds
from kerasemo.evaluation.probing.options import ProbeOptions
from kerasemo.fingerprints import model_fingerprint
from kerasemo.evaluation.probing.results import (
    METHOD_MODALITIES,
    METHOD_TITLES,
    MethodResult,
    ProbeResults,
)
from kerasemo.evaluation.probing.student_features import (
    EMBEDDING_VERSION,
    compute_student_embeddings,
    load_model,
    student_input_spec,
)
from kerasemo.evaluation.probing.teacher_features import TEACHER_VERSION, compute_teacher_features

logger = logging.getLogger(__name__)

CONFUSION_SPLIT = "test folds, pooled"


@dataclasses.dataclass
class _LabelledClips:
    """The clips a probe scores, their labels and folds (shared by every method's row)."""

    dataset: str
    data_root: str
    clips: object  # pandas.DataFrame from read_dataset
    classes: tuple[str, ...]
    labels: np.ndarray
    plans: dict[str, FoldPlan | None]
    options: ProbeOptions

    def evaluate(self, method, features, classifier, valid=None, note="") -> MethodResult:
        row = MethodResult(method, METHOD_TITLES[method], METHOD_MODALITIES[method], note=note)
        for name, plan in self.plans.items():
            if plan is not None:
                row.scores[name] = cross_validate(
                    features, self.labels, plan, num_classes=len(self.classes),
                    classifier=classifier, valid=valid, seed=self.options.seed,
                )
        return row


def _resolve_options(options: ProbeOptions | None, overrides: dict) -> ProbeOptions:
    if options is None:
        unknown = sorted(set(overrides) - set(ProbeOptions.field_names()))
        if unknown:
            raise TypeError(
                f"run_probe got unknown option(s) {unknown}; expected names from "
                f"{list(ProbeOptions.field_names())}."
            )
        if "out_dir" not in overrides:
            raise TypeError("run_probe needs out_dir=... (or options=ProbeOptions(out_dir=...)).")
        return ProbeOptions(**overrides)
    return options.replace(**overrides) if overrides else options


def _read_clips(dataset, root, options):
    from kerasemo.data.acted import read_dataset

    clips, report = read_dataset(
        dataset, root, ravdess_calm=options.ravdess_calm, include_song=options.include_song
    )
    if len(clips) == 0:
        raise ValueError(
            f"No usable clips in {report.root} for dataset {dataset!r}.\n{report.summary()}"
        )
    data_root = report.root if dataset != "csv" else str(pathlib.Path(report.root).parent)
    return clips, report, data_root


def _student_features(student_model, student, clips, dataset, data_root, options) -> FeatureSet:
    paths = clips["path"].tolist()
    settings = {
        "spec": student_input_spec(student_model),
        "batch_frames": options.batch_frames,
        "max_pad_fraction": options.max_pad_fraction,
    }
    key = cache_key(
        EMBEDDING_VERSION, model_fingerprint(student), dataset, data_root,
        files_fingerprint(paths, data_root), settings,
    )
    return cached_features(
        options.cache_dir, "student", dataset, key,
        lambda: compute_student_embeddings(
            student_model, paths, durations=clips["duration"].to_numpy(),
            batch_frames=options.batch_frames, max_pad_fraction=options.max_pad_fraction,
            progress=options.progress,
        ),
    )


def _plan_folds(options, num_clips, speakers) -> tuple[dict[str, FoldPlan | None], dict[str, str]]:
    """The folds of each protocol; a secondary protocol that cannot run gets a note instead."""
    plans: dict[str, FoldPlan | None] = {}
    notes: dict[str, str] = {}
    for name in options.protocol:
        try:
            plans[name] = make_folds(
                name, num_clips, folds=options.folds, seed=options.seed, speakers=speakers
            )
        except ValueError as err:
            if name == options.protocol[0] or name == "random10":
                raise
            plans[name] = None
            notes[name] = str(err)
            logger.warning("%s protocol not run: %s", name, err)
    return plans, notes


def _label_clips(dataset, clips, report, student_set, options, data_root):
    """Drops clips whose audio failed, labels the rest and makes the folds.

    Returns:
        ``(labelled clips, [N, 8] student features of the kept clips, protocol notes)``.
    """
    from kerasemo.data.acted import SkipReport, present_classes

    failed = SkipReport(dataset, report.root)
    for index, message in sorted(student_set.errors.items()):
        failed.add("audio failed to decode at extraction", clips.loc[index, "relpath"], message)
    report.merge(failed)
    clips = clips[student_set.valid].reset_index(drop=True)
    if len(clips) == 0:
        raise ValueError(f"No clip of {report.root} could be decoded.\n{report.summary()}")
    classes = present_classes(clips)
    if len(classes) < 2:
        raise ValueError(
            f"{dataset}: the clips hold only {len(classes)} class ({classes}); a probe needs 2 or more."
        )
    class_index = {c: i for i, c in enumerate(classes)}
    labels = clips["label"].map(class_index).to_numpy(np.int64)
    plans, notes = _plan_folds(options, len(clips), clips["speaker"].tolist())
    data = _LabelledClips(dataset, data_root, clips, classes, labels, plans, options)
    return data, student_set.features[student_set.valid], notes


def _acoustic_row(data: _LabelledClips, timings: dict) -> tuple[MethodResult, bool]:
    options = data.options
    if not options.acoustic:
        return MethodResult("acoustic", METHOD_TITLES["acoustic"], "A", note="not run (acoustic=False / --no-acoustic)"), False
    try:
        opensmile = import_opensmile()
    except acoustic_features.AcousticBaselineUnavailable as err:
        logger.warning("%s", err)
        hint = acoustic_features.ACOUSTIC_INSTALL_HINT
        return MethodResult("acoustic", METHOD_TITLES["acoustic"], "A", note=hint), False
    paths = data.clips["path"].tolist()
    key = cache_key(
        acoustic_features.ACOUSTIC_VERSION, getattr(opensmile, "__version__", "?"), data.dataset,
        data.data_root, files_fingerprint(paths, data.data_root),
    )
    acoustic_set = cached_features(
        options.cache_dir, "acoustic", data.dataset, key,
        lambda: compute_egemaps(paths, progress=options.progress),
    )
    timings["acoustic_features"] = acoustic_set.seconds
    note = "" if acoustic_set.valid.all() else (
        f"on {int(acoustic_set.valid.sum())} of {len(paths)} clips (openSMILE failed on the others)"
    )
    start = time.perf_counter()
    forest = fit_predict_forest(len(data.classes), options.seed, options.forest_trees)
    row = data.evaluate("acoustic", acoustic_set.features, forest, valid=acoustic_set.valid, note=note)
    timings["acoustic_cross_validation"] = time.perf_counter() - start
    return row, acoustic_set.from_cache


def _teacher_row(data: _LabelledClips, teacher, timings: dict) -> tuple[MethodResult, bool, int]:
    options = data.options
    clips = data.clips
    video_paths = [p if isinstance(p, str) and p else None for p in clips["video_path"].tolist()]
    num_with_video = sum(p is not None for p in video_paths)
    row = MethodResult("teacher", METHOD_TITLES["teacher"], "V")
    if num_with_video == 0:
        row.note = "no video in this set"
        return row, False, 0
    if teacher is None:
        row.note = "not run: pass a teacher (--teacher PATH)"
        return row, False, num_with_video
    teacher_model = load_model(teacher)
    video_settings = {
        "stride": options.frame_stride, "max_frames": options.max_video_frames,
        "crop": options.face_crop, "pooling": options.pooling,
    }
    key = cache_key(
        TEACHER_VERSION, model_fingerprint(teacher), data.dataset, data.data_root,
        files_fingerprint(video_paths, data.data_root), video_settings,
    )
    teacher_set = cached_features(
        options.cache_dir, "teacher", data.dataset, key,
        lambda: compute_teacher_features(
            teacher_model, video_paths, stride=options.frame_stride,
            max_frames=options.max_video_frames, crop=options.face_crop,
            pooling=options.pooling, progress=options.progress,
        ),
    )
    timings["teacher_features"] = teacher_set.seconds
    used = int(teacher_set.valid.sum())
    note = "" if used == len(clips) else f"on the {used} of {len(clips)} clips with decodable video"
    if teacher_set.errors:
        note += f"; {len(teacher_set.errors)} video(s) failed to decode"
        for index, message in list(teacher_set.errors.items())[:5]:
            logger.warning("teacher: %s: %s", clips.loc[index, "relpath"], message)
    if used == 0:
        row.note = "no clip's video could be decoded"
    else:
        row = data.evaluate("teacher", teacher_set.features, "linear", valid=teacher_set.valid, note=note.lstrip("; "))
    return row, teacher_set.from_cache, num_with_video


def run_probe(
    dataset: str,
    root: str | os.PathLike,
    student,
    *,
    teacher=None,
    options: ProbeOptions | None = None,
    **overrides,
) -> ProbeResults:
    """Probes a student (and the baselines) on a labelled set and writes the results.

    Args:
        dataset: ``rml``, ``enterface``, ``cremad``, ``ravdess`` or ``csv``.
        root: the dataset folder (the manifest file for ``csv``).
        student: a ``.keras`` path or a Keras model ``[batch, bins, frames] -> [batch, 8]``.
        teacher: optional ``.keras`` path or Keras face model; used on clips with video.
        options: a `ProbeOptions`; without it, the keywords build one (``out_dir`` needed).
        **overrides: `ProbeOptions` fields (``out_dir``, ``protocol``, ``folds``, ``seed``,
            ``cache_dir``, ``experiment``, ...), applied on top of `options`.

    Returns:
        The `ProbeResults` (also written to ``options.out_dir``).

    Raises:
        FileNotFoundError: for a missing dataset folder or model file.
        TypeError: for an unknown option name, or no ``out_dir``.
        ValueError: for an unknown dataset or protocol, no usable clips, fewer than 2 classes,
            or too few clips or speakers for the folds.

    Example:

    >>> run_probe("rml", "/data/rml", "student.keras", out_dir="runs/probe")  # doctest: +SKIP
    """
    options = _resolve_options(options, overrides)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    clips, report, data_root = _read_clips(dataset, root, options)
    timings["read"] = time.perf_counter() - started

    student_set = _student_features(load_model(student), student, clips, dataset, data_root, options)
    timings["student_embeddings"] = student_set.seconds
    data, student_features, plan_notes = _label_clips(
        dataset, clips, report, student_set, options, data_root
    )
    rows = [
        MethodResult("chance", METHOD_TITLES["chance"], "-", chance=1.0 / len(data.classes)),
        data.evaluate("majority", np.zeros((len(data.clips), 1)), "majority"),
    ]
    acoustic_row, acoustic_cached = _acoustic_row(data, timings)
    rows.append(acoustic_row)
    start = time.perf_counter()
    rows.append(data.evaluate("student", student_features, "linear"))
    timings["student_cross_validation"] = time.perf_counter() - start
    teacher_row, teacher_cached, num_with_video = _teacher_row(data, teacher, timings)
    rows.append(teacher_row)
    for name, message in plan_notes.items():
        for row in rows[1:]:
            row.note = (row.note + "; " if row.note else "") + f"{name}: {message}"

    results = ProbeResults(
        dataset=dataset,
        root=report.root,
        classes=data.classes,
        class_counts={c: int((data.clips["label"] == c).sum()) for c in data.classes},
        num_clips=len(data.clips),
        num_speakers=len({s for s in data.clips["speaker"].tolist() if s is not None}),
        num_with_video=num_with_video,
        protocols=tuple(p for p in options.protocol if data.plans.get(p) is not None),
        fold_descriptions={p: plan.description for p, plan in data.plans.items() if plan is not None},
        folds=options.folds,
        seed=options.seed,
        methods=rows,
        skipped=report.to_dict(),
        timings=timings,
        cache={"student": student_set.from_cache, "acoustic": acoustic_cached, "teacher": teacher_cached},
    )
    head_files = {}
    if options.head_dir is not None:
        from kerasemo.models.probe_head import save_probe_head

        head_files = save_probe_head(
            student_features, data.labels, data.classes, options.head_dir, dataset=dataset,
            student_sha256=model_fingerprint(student),
        )
    _write_outputs(results, data, head_files)
    results.timings["total"] = time.perf_counter() - started
    (options.out_dir / "results.json").write_text(json.dumps(results.to_dict(), indent=2), encoding="utf-8")
    return results


def _save_confusion_figure(results: ProbeResults, path: pathlib.Path) -> bool:
    """Teacher and student side by side (the paper's Figure 5), row-normalised, truth as rows."""
    from kerasemo.evaluation.classification import plot_confusion_matrix

    primary = results.protocols[0]
    panels, titles = [], []
    for method in ("teacher", "student"):
        score = results.method(method).scores.get(primary)
        if score is not None:
            panels.append(score.confusion)
            uar, _ = score.summary("uar")
            titles.append(
                f"{'teacher (faces)' if method == 'teacher' else 'student (speech)'}: "
                f"{100 * score.mean:.1f}% accuracy, {100 * uar:.1f}% UAR"
            )
    if not panels:
        return False
    figure = plot_confusion_matrix(
        panels, results.classes, titles=titles, dataset=results.dataset, split=CONFUSION_SPLIT,
        protocol=primary,
    )
    figure.savefig(path, dpi=110)
    return True


def _write_outputs(results: ProbeResults, data: _LabelledClips, head_files: dict) -> None:
    out_dir = data.options.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "results_md": str(out_dir / "results.md"),
        "results_json": str(out_dir / "results.json"),
        "predictions_csv": str(out_dir / "predictions.csv"),
    }
    # Per-clip predictions under every protocol.
    table = data.clips[["relpath", "label", "speaker"]].copy()
    for name in results.protocols:
        table[f"fold_{name}"] = data.plans[name].fold_of(len(data.clips))
        for row in results.methods:
            score = row.scores.get(name)
            if score is not None and row.method != "majority":
                table[f"{row.method}_{name}"] = [
                    results.classes[p] if p >= 0 else "" for p in score.predictions
                ]
    table.to_csv(out_dir / "predictions.csv", index=False)
    if _save_confusion_figure(results, out_dir / "confusion.png"):
        files["confusion_png"] = str(out_dir / "confusion.png")
    if data.options.experiment is not None:
        from kerasemo import config as config_lib

        files["config_toml"] = str(config_lib.save_config(data.options.experiment, out_dir))
    files.update(head_files)
    results.files = files
    (out_dir / "results.md").write_text(results.to_markdown(), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(results.to_dict(), indent=2), encoding="utf-8")
