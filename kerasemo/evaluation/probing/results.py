"""What one probe run measured: one row per method, scores per protocol, the markdown table.

Rows (`METHODS`):

- **chance**: a uniform random guess (the paper's "Random" row; no folds): accuracy and UAR
  1/K, macro-F1 that of the expected confusion of a uniform guess (`chance_scores`).
- **majority**: the training fold's most frequent class, since the non-acted sets are not
  exactly balanced.
- **acoustic**: eGeMAPS functionals + a seeded random forest (Noroozi et al.'s baseline).
- **student**: the student's logits on the full-length utterance + the linear probe.
- **teacher**: the face teacher's max-pooled frame logits + the same probe (sets with video).

Every row reports accuracy, UAR and macro-F1 (mean ± std over folds, ddof 1); the paper's
Table 5 (accuracy only, `PAPER_TABLE5`) is given beside RML and eNTERFACE.

Example:

>>> chance_scores({"angry": 10, "calm": 30})["uar"]
0.5
"""

from __future__ import annotations

import dataclasses
import math

from kerasemo.evaluation.probing.classifiers import METRIC_TITLES, METRICS, ProtocolScore

METHODS: tuple[str, ...] = ("chance", "majority", "acoustic", "student", "teacher")

# Paper Table 5 (RML, eNTERFACE): mean (std) accuracy in percent, 10-fold over clips.
PAPER_TABLE5: dict[str, dict[str, tuple[float, float | None]]] = {
    "rml": {
        "chance": (16.7, None),
        "student": (49.7, 5.4),
        "teacher": (72.6, 3.9),
        "acoustic": (65.3, None),
    },
    "enterface": {
        "chance": (16.7, None),
        "student": (34.3, 4.0),
        "teacher": (48.3, 4.9),
        "acoustic": (47.1, None),
    },
}

METHOD_TITLES = {
    "chance": "chance (uniform guess, 1/K)",
    "majority": "majority class of the training fold",
    "acoustic": "eGeMAPS functionals (88) + random forest",
    "student": "student logits (8-d) + linear probe",
    "teacher": "teacher on faces, max-pooled frame logits (8-d) + linear probe",
}
METHOD_MODALITIES = {"chance": "-", "majority": "-", "acoustic": "A", "student": "A", "teacher": "V"}


def chance_scores(class_counts: dict[str, int]) -> dict[str, float]:
    """Expected accuracy, UAR and macro-F1 of a uniform random guess over K classes.

    Accuracy and UAR are 1/K whatever the class frequencies p_c; the F1 of class c in the
    expected confusion matrix is ``2 p_c / (1 + K p_c)``, averaged over classes.

    Args:
        class_counts: clips per class.

    Example:

    >>> chance_scores({"a": 5, "b": 5})
    {'accuracy': 0.5, 'uar': 0.5, 'macro_f1': 0.5}
    """
    counts = [int(n) for n in class_counts.values()]
    total, k = sum(counts), len(counts)
    f1 = sum(2 * (n / total) / (1 + k * n / total) for n in counts) / k
    return {"accuracy": 1.0 / k, "uar": 1.0 / k, "macro_f1": f1}


@dataclasses.dataclass
class MethodResult:
    """One row of the results table.

    Args:
        method: one of `METHODS`.
        title: what the row is.
        modality: ``"A"`` (audio), ``"V"`` (faces) or ``"-"``.
        scores: protocol -> `ProtocolScore` (absent protocols were not run for this row).
        note: why a row has no score, or on how many clips it ran.
        chance: for the chance row, 1/K.

    Example:

    >>> MethodResult("chance", METHOD_TITLES["chance"], "-", chance=0.25).to_dict()["chance"]
    0.25
    """

    method: str
    title: str
    modality: str
    scores: dict[str, ProtocolScore] = dataclasses.field(default_factory=dict)
    note: str = ""
    chance: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready row: the fields, with each protocol's score as its own dict, last."""
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "scores"}
        row["scores"] = {p: s.to_dict() for p, s in self.scores.items()}
        return row


def _percent(mean: float, std: float | None) -> str:
    if mean is None or math.isnan(mean):
        return "n/a"
    if std is None or math.isnan(std):
        return f"{100 * mean:.1f}"
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def _paper_cell(reference) -> str:
    if reference is None:
        return ""
    return f"{reference[0]:.1f}" if reference[1] is None else f"{reference[0]:.1f} ± {reference[1]:.1f}"


@dataclasses.dataclass
class ProbeResults:
    """Everything one probe run measured (see `run_probe`).

    Example:

    >>> results = ProbeResults("toy", "/data/toy", ("a", "b"), {"a": 5, "b": 5}, 10, 2, 0,
    ...     ("random10",), {"random10": "2 folds"}, 2, 0,
    ...     [MethodResult("chance", METHOD_TITLES["chance"], "-", chance=0.5)], {})
    >>> results.score("chance", "random10", "macro_f1")
    (0.5, nan)
    """

    dataset: str
    root: str
    classes: tuple[str, ...]
    class_counts: dict[str, int]
    num_clips: int
    num_speakers: int
    num_with_video: int
    protocols: tuple[str, ...]
    fold_descriptions: dict[str, str]
    folds: int
    seed: int
    methods: list[MethodResult]
    skipped: dict
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    cache: dict[str, bool] = dataclasses.field(default_factory=dict)

    def method(self, name: str) -> MethodResult:
        """The row of one method (`METHODS`)."""
        for row in self.methods:
            if row.method == name:
                return row
        raise KeyError(f"No method {name!r}; rows are {[m.method for m in self.methods]}.")

    def score(self, method: str, protocol: str, metric: str = "accuracy") -> tuple[float, float] | None:
        """(mean, std) of a metric (`METRICS`) of a method under a protocol, or None if absent."""
        row = self.method(method)
        if method == "chance":
            return (chance_scores(self.class_counts)[metric], float("nan"))
        score = row.scores.get(protocol)
        return None if score is None else score.summary(metric)

    def to_dict(self) -> dict:
        """JSON-ready results (``results.json``)."""
        paper = PAPER_TABLE5.get(self.dataset)
        return {
            "dataset": self.dataset,
            "root": self.root,
            "classes": list(self.classes),
            "class_counts": self.class_counts,
            "num_clips": self.num_clips,
            "num_speakers": self.num_speakers,
            "num_with_video": self.num_with_video,
            "protocols": list(self.protocols),
            "fold_descriptions": self.fold_descriptions,
            "folds": self.folds,
            "seed": self.seed,
            "std_ddof": 1,
            "metrics": list(METRICS),
            "chance_scores": chance_scores(self.class_counts),
            "methods": [m.to_dict() for m in self.methods],
            "paper_table5": None if paper is None else {
                k: {"mean": v[0], "std": v[1]} for k, v in paper.items()
            },
            "skipped": self.skipped,
            "files": self.files,
            "timings_seconds": self.timings,
            "loaded_from_cache": self.cache,
        }

    def _row_cells(self, row: MethodResult, paper) -> list[str]:
        cells = [row.title, row.modality]
        chance = chance_scores(self.class_counts)
        for protocol in self.protocols:
            for metric in METRICS:
                if row.method == "chance":
                    cells.append(_percent(chance[metric], None))
                    continue
                score = row.scores.get(protocol)
                cells.append("n/a" if score is None else _percent(*score.summary(metric)))
        if paper:
            cells.append(_paper_cell(paper.get(row.method)))
        cells.append(row.note)
        return cells

    def _skipped_lines(self) -> list[str]:
        lines = ["", "## Skipped files", ""]
        skipped = self.skipped
        if not skipped.get("counts"):
            return lines + ["Nothing skipped."]
        lines += ["| reason | files | examples |", "|---|---:|---|"]
        for reason, count in sorted(skipped["counts"].items(), key=lambda kv: -kv[1]):
            examples = "; ".join(e.replace("|", "\\|") for e in skipped["examples"].get(reason, []))
            lines.append(f"| {reason} | {count} | {examples} |")
        return lines

    def to_markdown(self) -> str:
        """The results table (``results.md``): accuracy, UAR and macro-F1 per protocol."""
        paper = PAPER_TABLE5.get(self.dataset)
        header = ["method", "modality"] + [
            f"{p} {METRIC_TITLES[m]} (%)" for p in self.protocols for m in METRICS
        ]
        if paper:
            header.append("paper Table 5 accuracy (%)")
        header.append("note")
        lines = [
            f"# Linear probe on {self.dataset}",
            "",
            f"{self.num_clips} clips, {len(self.classes)} classes "
            f"({', '.join(f'{c} {self.class_counts[c]}' for c in self.classes)}), "
            f"{self.num_speakers} speakers, {self.num_with_video} clips with video. Root: "
            f"`{self.root}`.",
            "",
        ]
        for protocol in self.protocols:
            lines.append(f"- **{protocol}**: {self.fold_descriptions.get(protocol, 'not run')}.")
        lines += [
            "- Accuracy, UAR (unweighted average recall: the mean of the per-class recalls) and "
            "macro-F1 per fold, then mean ± standard deviation over folds (ddof = 1, as the "
            "authors' MATLAB `std`).",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 3) + ["---"]) + "|",
        ]
        for row in self.methods:
            lines.append("| " + " | ".join(self._row_cells(row, paper)) + " |")
        if paper:
            lines += [
                "",
                "Paper (Albanie et al. 2018, Table 5): accuracy, 10-fold cross-validation over "
                "clips (`random10`); the acoustic reference is Noroozi et al.'s 88 audio "
                "features + random forest (not eGeMAPS).",
            ]
        return "\n".join(lines + self._skipped_lines()) + "\n"
