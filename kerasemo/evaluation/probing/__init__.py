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
- `head`: a probe fitted on all clips, saved for export (`save_probe_head`).
- `run`: `run_probe`.

Methods (rows of the table): chance (1/K), the training fold's majority class, eGeMAPS + random
forest (needs the optional ``opensmile``), the student's 8 logits + `LinearProbe`, and the face
teacher's pooled logits + the same probe (sets with video only).

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

from kerasemo.evaluation.probing.acoustic_features import (
    ACOUSTIC_INSTALL_HINT,
    ACOUSTIC_VERSION,
    AcousticBaselineUnavailable,
    compute_egemaps,
    import_opensmile,
)
from kerasemo.evaluation.probing.cache import (
    DEFAULT_CACHE_DIR,
    FeatureSet,
    cache_key,
    cache_path,
    cached_features,
    files_fingerprint,
    model_fingerprint,
)
from kerasemo.evaluation.probing.classifiers import (
    CLASSIFIERS,
    METRICS,
    ProtocolScore,
    cross_validate,
    fit_predict_forest,
    fit_predict_linear,
    fit_predict_majority,
    mean_and_std,
)
from kerasemo.evaluation.probing.folds import (
    PROTOCOLS,
    FoldPlan,
    make_folds,
    normalise_protocols,
    random_folds,
    speaker_folds,
)
from kerasemo.evaluation.probing.head import load_probe_head, save_probe_head
from kerasemo.evaluation.probing.options import ProbeOptions
from kerasemo.evaluation.probing.results import (
    METHODS,
    PAPER_TABLE5,
    MethodResult,
    ProbeResults,
    chance_scores,
)
from kerasemo.evaluation.probing.run import run_probe
from kerasemo.evaluation.probing.student_features import (
    EMBEDDING_VERSION,
    compute_student_embeddings,
    load_model,
    pad_for_student,
    student_input_spec,
)
from kerasemo.evaluation.probing.teacher_features import (
    TEACHER_VERSION,
    compute_teacher_features,
    sample_video_frames,
)

__all__ = [
    "ACOUSTIC_INSTALL_HINT",
    "ACOUSTIC_VERSION",
    "CLASSIFIERS",
    "DEFAULT_CACHE_DIR",
    "EMBEDDING_VERSION",
    "METHODS",
    "METRICS",
    "PAPER_TABLE5",
    "PROTOCOLS",
    "TEACHER_VERSION",
    "AcousticBaselineUnavailable",
    "FeatureSet",
    "FoldPlan",
    "MethodResult",
    "ProbeOptions",
    "ProbeResults",
    "ProtocolScore",
    "cache_key",
    "cache_path",
    "cached_features",
    "chance_scores",
    "compute_egemaps",
    "compute_student_embeddings",
    "compute_teacher_features",
    "cross_validate",
    "files_fingerprint",
    "fit_predict_forest",
    "fit_predict_linear",
    "fit_predict_majority",
    "import_opensmile",
    "load_model",
    "load_probe_head",
    "make_folds",
    "mean_and_std",
    "model_fingerprint",
    "normalise_protocols",
    "pad_for_student",
    "random_folds",
    "run_probe",
    "sample_video_frames",
    "save_probe_head",
    "speaker_folds",
    "student_input_spec",
]
