"""The student against the teacher: per-emotion ROC AUC (paper section 5, "Experiments").

For each emotion c, the positives are the tracks whose dominant teacher emotion (argmax of the
pooled teacher logits) is c, and the score is the student's probability of c. The paper reports
the mean over emotions except fear, disgust and contempt, which are too rare among the teacher's
dominant predictions (0.71 on heard identities, 0.69 on unheard ones). An emotion with no
positive or no negative track has no AUC (reported as None and left out of the mean).

Example:

>>> import numpy as np
>>> teacher = np.eye(8)[[0, 0, 1, 1, 2, 2, 3, 3, 4, 4]] * 5
>>> report = emotion_auc(teacher, teacher)   # a student that copies the teacher
>>> report.mean
1.0
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import softmax
from sklearn.metrics import roc_auc_score

from kerasemo.emotions import AUC_EXCLUDED_CLASSES, CLASSES


@dataclasses.dataclass(frozen=True)
class AucReport:
    """Per-emotion ROC AUCs, their mean over the included emotions, and positive counts."""

    per_class: dict[str, float | None]
    positives: dict[str, int]
    excluded: tuple[str, ...]
    mean: float | None
    num_tracks: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def emotion_auc(
    teacher_logits: np.ndarray,
    student_logits: np.ndarray,
    excluded: tuple[str, ...] = AUC_EXCLUDED_CLASSES,
) -> AucReport:
    """ROC AUC of the student's probability of each emotion against the teacher's dominant emotion.

    Args:
        teacher_logits: ``[tracks, 8]`` pooled teacher logits.
        student_logits: ``[tracks, 8]`` student logits for the same tracks.
        excluded: emotions left out of the mean (the paper's: fear, disgust, contempt).

    Returns:
        An `AucReport`.

    Raises:
        ValueError: for mismatched or wrongly shaped inputs, or an unknown excluded emotion.
    """
    teacher = np.asarray(teacher_logits, dtype=np.float64)
    student = np.asarray(student_logits, dtype=np.float64)
    if teacher.ndim != 2 or teacher.shape != student.shape or teacher.shape[1] != len(CLASSES):
        raise ValueError(
            f"teacher_logits and student_logits must both be [tracks, {len(CLASSES)}]; received "
            f"{teacher.shape} and {student.shape}."
        )
    unknown = [name for name in excluded if name not in CLASSES]
    if unknown:
        raise ValueError(f"Unknown excluded emotion(s) {unknown}; expected names from {CLASSES}.")
    dominant = teacher.argmax(axis=1)
    probabilities = softmax(student, axis=1)
    per_class, positives = {}, {}
    for index, name in enumerate(CLASSES):
        labels = dominant == index
        positives[name] = int(labels.sum())
        if labels.all() or not labels.any():
            per_class[name] = None
        else:
            per_class[name] = float(roc_auc_score(labels, probabilities[:, index]))
    included = [v for k, v in per_class.items() if k not in excluded and v is not None]
    mean = float(np.mean(included)) if included else None
    return AucReport(per_class, positives, tuple(excluded), mean, int(teacher.shape[0]))


def auc_markdown(reports: dict[str, AucReport]) -> str:
    """A markdown table with one column per split (e.g. heard_val, unheard_val)."""
    names = list(reports)
    lines = [
        "| emotion | " + " | ".join(f"{n} AUC (positives)" for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for emotion in CLASSES:
        cells = []
        for report in reports.values():
            value = report.per_class[emotion]
            mark = " (excluded)" if emotion in report.excluded else ""
            text = "n/a" if value is None else f"{value:.3f}"
            cells.append(f"{text} ({report.positives[emotion]}){mark}")
        lines.append(f"| {emotion} | " + " | ".join(cells) + " |")
    means = ["n/a" if r.mean is None else f"**{r.mean:.3f}**" for r in reports.values()]
    lines.append("| mean (included) | " + " | ".join(means) + " |")
    return "\n".join(lines)
