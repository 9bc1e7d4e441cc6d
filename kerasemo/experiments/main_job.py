"""The embedded default: the whole method on the synthetic corpus, one stage after another.

``python -m kerasemo.experiments.distill`` with no ``--data`` runs this:

1. generate the synthetic audio-visual corpus (`kerasemo.data.synthetic`);
2. train the demo face teacher on its FERPlus-format faces (``train_teacher``);
3. label its VoxCeleb-layout talking-face tracks and write the shards (``build_emovoxceleb``);
4. distil the speech student and score it against the teacher (``distill``);
5. probe the student, the teacher and the acoustic baseline on the acted sets (``probe``);
6. score teacher and student against the corpus's ground truth (evaluation only).

Each stage is skipped, with a log line, when its output already exists, so a rerun after an
interruption continues where it stopped. Stages 1-4 run inside
`kerasemo.data.synthetic.forbid_ground_truth`: nothing on the training path can open the
ground truth; only the final evaluation reads it.
"""

from __future__ import annotations

import json
import logging
import math
import pathlib
import time

from kerasemo import config as config_lib

logger = logging.getLogger(__name__)

DEFAULT_CORPUS = pathlib.Path("data") / "synthetic"
DEFAULT_WORK = pathlib.Path("runs") / "demo"
DEFAULT_SHARDS = pathlib.Path("tfrecords") / "demo"
PROBE_SETS = ("rml", "cremad")


def _stage(name: str, done: bool) -> bool:
    logger.info("== %s: %s", name, "skipping (output exists)" if done else "running")
    return not done


def _config_args(config_name: str, overrides: list[str]) -> list[str]:
    args = ["--config", str(config_name)]
    for item in overrides:
        args += ["--set", item]
    return args


def ground_truth_recovery(corpus: pathlib.Path, logits_file: pathlib.Path) -> dict:
    """How much of the teacher's (face) accuracy the student recovers from voice alone.

    Both are scored on the same held-out tracks against the corpus's ground truth
    (`kerasemo.evaluation.transfer`): accuracy of the argmax, and the mean one-vs-rest ROC AUC
    over the emotions present (the student's probability against the true emotion).

    Returns:
        A dict with teacher and student accuracy and AUC, the majority-class accuracy, and
        ``recovery`` = (student AUC - 0.5) / (teacher AUC - 0.5).
    """
    import numpy as np

    from kerasemo.evaluation import transfer

    truth = transfer.track_truth(corpus)
    data = np.load(logits_file)
    ids = [str(t) for t in data["track_id"]]
    result = {}
    for name in ("teacher", "student"):
        scores = transfer.ground_truth_scores(truth, ids, data[name])
        result["tracks"] = scores["tracks"]
        result["majority_accuracy"] = scores["majority_accuracy"]
        result[name] = {"accuracy": scores["accuracy"], "mean_auc": scores["mean_auc"]}
    result["recovery"] = transfer.recovery(result["student"]["mean_auc"], result["teacher"]["mean_auc"])
    return result


def _results_markdown(results: dict) -> str:
    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}"

    def num(value, spec=".3f"):
        return "n/a" if value is None else format(value, spec)

    teacher = results["teacher"]
    distilled = results["distill"]
    lines = [
        "# kerasemo on the embedded synthetic corpus",
        "",
        "Synthetic data, not a substitute for real data: these numbers show the method works end "
        "to end, not how it does on VoxCeleb (paper figures in parentheses).",
        "",
        "| stage | figure | value |",
        "|---|---|---|",
        f"| teacher (faces) | PrivateTest accuracy, % | {pct(teacher.get('accuracy'))} "
        f"(pixel logistic regression {pct(teacher.get('baseline_accuracy'))}) |",
        f"| student vs teacher | mean ROC AUC, heard identities | "
        f"{num(distilled['heard_val_auc'])} (paper 0.71) |",
        f"| student vs teacher | mean ROC AUC, unheard identities | "
        f"{num(distilled['unheard_val_auc'])} (paper 0.69) |",
        f"| student vs teacher | heard - unheard (identity shortcut) | {num(distilled['gap'], '+.3f')} |",
    ]
    truth = results.get("ground_truth")
    if truth:
        recovery = num(truth["recovery"], ".2f")
        lines += [
            f"| ground truth, unheard tracks ({truth['tracks']}) | teacher (faces) accuracy / AUC | "
            f"{pct(truth['teacher']['accuracy'])} % / {num(truth['teacher']['mean_auc'])} |",
            f"| ground truth, unheard tracks | student (voice) accuracy / AUC | "
            f"{pct(truth['student']['accuracy'])} % / {num(truth['student']['mean_auc'])} |",
            f"| ground truth, unheard tracks | majority-class accuracy | {pct(truth['majority_accuracy'])} % |",
            f"| ground truth | student's share of the teacher's above-chance AUC | {recovery} |",
        ]
    for dataset, scores in results.get("probe", {}).items():
        for protocol in ("random10", "speaker"):
            cells = []
            for method, protocols in scores.items():
                value = protocols.get(protocol)
                if value is None:
                    continue
                mean, std = value
                spread = "" if std is None or math.isnan(std) else f" +- {100 * std:.1f}"
                cells.append(f"{method} {100 * mean:.1f}{spread}")
            if cells:
                lines.append(f"| probe {dataset}, {protocol} folds | accuracy, % | {'; '.join(cells)} |")
    verdict = results.get("verdict")
    if verdict:
        lines += ["", f"**Did emotion transfer from faces to voices? {verdict['transfer']}.** "
                  "(speaker-independent folds)", ""]
        lines += [f"- {sentence}" for sentence in verdict["sentences"]]
    stages = ", ".join(f"{name} {seconds / 60:.1f}" for name, seconds in results.get("stage_seconds", {}).items())
    lines += ["", f"Total wall time: {results['seconds'] / 60:.1f} min" + (f" ({stages} min)." if stages else ".")]
    return "\n".join(lines) + "\n"


def _finite(value):
    """`value` with every NaN or infinite float replaced by None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _train_steps_per_epoch(shards: pathlib.Path, batch_size: int) -> int:
    import pandas as pd

    table = pd.read_csv(shards / "manifest.csv", usecols=["split"])
    return max(1, int((table["split"] == "train").sum()) // batch_size)


def run(
    experiment: config_lib.ExperimentConfig,
    *,
    corpus: pathlib.Path = DEFAULT_CORPUS,
    work: pathlib.Path = DEFAULT_WORK,
    shards: pathlib.Path = DEFAULT_SHARDS,
    out: pathlib.Path | None = None,
    config_name: str = "demo",
    overrides: list[str] | None = None,
    corpus_preset: str = "demo",
) -> str:
    """Runs every stage on the synthetic corpus; returns the results table as markdown.

    Writes ``results.md``, ``results.json`` (strict JSON: no NaN) and ``learning_curve.png``
    (the distillation's loss and teacher agreement against SGD steps) in `work`.
    """
    from kerasemo.data.synthetic import forbid_ground_truth, generate_corpus
    from kerasemo.experiments import build_emovoxceleb, distill, train_teacher

    started = time.time()
    overrides = list(overrides or [])
    corpus, work, shards = pathlib.Path(corpus), pathlib.Path(work), pathlib.Path(shards)
    out = pathlib.Path(out) if out else work / "distill"
    teacher_dir = work / "teacher"
    work.mkdir(parents=True, exist_ok=True)

    stage_seconds = {}
    clock = time.time()

    def lap(name):
        nonlocal clock
        now = time.time()
        stage_seconds[name] = now - clock
        clock = now

    logger.info("== synthetic corpus: %s", corpus)
    generate_corpus(corpus, preset=corpus_preset, seed=experiment.seed, progress=True)
    lap("corpus")

    config_args = _config_args(config_name, overrides)
    with forbid_ground_truth(corpus):
        teacher_path = teacher_dir / "teacher.keras"
        if _stage("teacher", (teacher_dir / "metrics.json").exists()):
            resume = ["--resume"] if teacher_dir.exists() else []
            train_teacher.main(
                ["--data", str(corpus / "ferplus"), "--out", str(teacher_dir), "--cache-dir", str(shards.parent)]
                + resume
                + config_args
            )
        lap("teacher")
        if _stage("EmoVoxCeleb shards", (shards / "manifest.csv").exists()):
            build_emovoxceleb.main(
                ["--root", str(corpus), "--layout", "voxceleb1", "--teacher", str(teacher_path), "--out", str(shards)]
                + config_args
            )
        lap("shards")
        if _stage("distillation", (out / "auc.json").exists() and (out / "student.keras").exists()):
            distill.run_distillation(experiment, shards, out)
        lap("distillation")

    auc = json.loads((out / "auc.json").read_text())
    teacher_metrics = json.loads((teacher_dir / "metrics.json").read_text())
    results = {
        "teacher": {
            "accuracy": teacher_metrics["teacher"]["accuracy"],
            "baseline_accuracy": teacher_metrics.get("baseline_logistic_regression", {}).get("accuracy"),
        },
        "distill": {
            "heard_val_auc": auc["heard_val"]["mean"],
            "unheard_val_auc": auc["unheard_val"]["mean"],
            "gap": auc["heard_minus_unheard"],
        },
        "ground_truth": ground_truth_recovery(corpus, out / "unheard_val_logits.npz"),
    }

    from kerasemo.evaluation.probing import run_probe

    results["probe"] = {}
    for dataset in PROBE_SETS:
        probe_dir = work / "probe" / dataset
        probe = run_probe(
            dataset,
            corpus / dataset,
            out / "student.keras",
            teacher=teacher_path,
            protocol="both",
            folds=experiment.evaluation.probe_folds,
            seed=experiment.evaluation.probe_seed,
            out_dir=probe_dir,
            cache_dir=work / "cache",
            experiment=experiment,
        )
        results["probe"][dataset] = {
            method: {p: probe.score(method, p) for p in ("random10", "speaker")}
            for method in ("chance", "acoustic", "student", "teacher")
            if any(row.method == method for row in probe.methods)
        }
    from kerasemo.evaluation.transfer import plot_training_curve, transfer_verdict

    results["verdict"] = transfer_verdict(results["probe"])
    plot_training_curve(
        out / "distiller_history.csv",
        work / "learning_curve.png",
        steps_per_epoch=_train_steps_per_epoch(shards, experiment.distill.batch_size),
        title="Distillation on the synthetic corpus",
    )
    lap("probes and evaluation")
    results["stage_seconds"] = stage_seconds
    results["seconds"] = time.time() - started
    results = _finite(results)
    table = _results_markdown(results)
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str, allow_nan=False))
    (work / "results.md").write_text(table)
    return table
