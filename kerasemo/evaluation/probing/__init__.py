"""Linear-probe evaluation of the student on labelled speech sets (paper section 5.2, Table 5, Figure 5).

`run_probe` reads a labelled set, computes one feature vector per clip for every method,
cross-validates a classifier on each with the same folds, and writes the results (accuracy,
UAR and macro-F1 per protocol), the per-clip predictions and the teacher/student confusion
matrices. One module per concept:

- `folds`: the ``random10`` (the authors' folds over clips) and ``speaker`` (speaker-independent)
  protocols.
- `classifiers`: the linear probe, random forest and majority classifiers, `cross_validate`.
- `cache`: fingerprints and the ``.npz`` feature cache.
- `student_features`, `teacher_features`, `acoustic_features`: the three extractors (student
  logits on the full utterance, max-pooled teacher logits on the faces, eGeMAPS functionals).
- `results`: `ProbeResults`, its markdown and JSON.
- `options`: `ProbeOptions`, every setting of a run.
- `save_probe_head`, `load_probe_head`: a probe fitted on all clips, saved for export and
  inference (the folder's format is `kerasemo.models.probe_head`'s).
- `run`: `run_probe`.

Methods (rows of the table): chance (1/K), the training fold's majority class, eGeMAPS + random
forest (needs the optional ``opensmile``), the student's 8 logits + `LinearProbe`, and the face
teacher's pooled logits + the same probe (sets with video only).

The names below, and the modules above, are loaded on first use: importing the package does not
load scikit-learn or Keras.

Example:

```python
from kerasemo.evaluation.probing import ProbeOptions, run_probe

options = ProbeOptions(out_dir="runs/probe-rml", cache_dir="runs/cache")
results = run_probe("rml", "/data/rml", "runs/distill/student.keras",
                    teacher="runs/teacher/teacher.keras", options=options)
print(results.to_markdown())
print(results.score("student", "random10"))          # (mean, std) accuracy
print(results.score("student", "speaker", "uar"))    # (mean, std) UAR
```
"""

from kerasemo.lazy import lazy_exports

_HOMES = {
    "ACOUSTIC_INSTALL_HINT": ".acoustic_features",
    "ACOUSTIC_VERSION": ".acoustic_features",
    "AcousticBaselineUnavailable": ".acoustic_features",
    "compute_egemaps": ".acoustic_features",
    "import_opensmile": ".acoustic_features",
    "DEFAULT_CACHE_DIR": ".cache",
    "FeatureSet": ".cache",
    "cache_key": ".cache",
    "cache_path": ".cache",
    "cached_features": ".cache",
    "files_fingerprint": ".cache",
    "model_fingerprint": "kerasemo.fingerprints",
    "CLASSIFIERS": ".classifiers",
    "METRICS": ".classifiers",
    "ProtocolScore": ".classifiers",
    "cross_validate": ".classifiers",
    "fit_predict_forest": ".classifiers",
    "fit_predict_linear": ".classifiers",
    "fit_predict_majority": ".classifiers",
    "mean_and_std": ".classifiers",
    "PROTOCOLS": ".folds",
    "FoldPlan": ".folds",
    "make_folds": ".folds",
    "normalise_protocols": ".folds",
    "random_folds": ".folds",
    "speaker_folds": ".folds",
    "load_probe_head": "kerasemo.models.probe_head",
    "save_probe_head": "kerasemo.models.probe_head",
    "ProbeOptions": ".options",
    "METHODS": ".results",
    "PAPER_TABLE5": ".results",
    "MethodResult": ".results",
    "ProbeResults": ".results",
    "chance_scores": ".results",
    "run_probe": ".run",
    "EMBEDDING_VERSION": ".student_features",
    "compute_student_embeddings": ".student_features",
    "load_model": ".student_features",
    "pad_for_student": ".student_features",
    "student_input_spec": ".student_features",
    "TEACHER_VERSION": ".teacher_features",
    "compute_teacher_features": ".teacher_features",
    "sample_video_frames": ".teacher_features",
}
"""Where each public name lives: a module of this package (".name") or another one."""

__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
