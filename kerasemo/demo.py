"""The embedded default: the whole method on the synthetic corpus, one stage after another.

``python -m kerasemo.experiments.distill`` with no ``--data`` runs `run_demo`:

1. generate the synthetic audio-visual corpus (`kerasemo.data.synthetic.generate_corpus`);
2. train the demo face teacher on its FERPlus-format faces (`kerasemo.training.train_teacher`);
3. label its VoxCeleb-layout talking-face tracks and write the shards
   (`kerasemo.data.build_stage.build_from_config`);
4. distil the speech student and score it against the teacher (`kerasemo.training.distill`);
5. probe the student, the teacher and the acoustic baseline on the acted sets
   (`kerasemo.evaluation.probing.run_probe`);
6. score teacher and student against the corpus's ground truth (evaluation only).

Each stage is skipped, with a log line, when its output already exists, so a rerun after an
interruption continues where it stopped. Stages 1-4 run inside
`kerasemo.data.synthetic.forbid_ground_truth`: nothing on the training path can open the
ground truth; only the final evaluation reads it.

Example:

```python
from kerasemo.config import load_config
from kerasemo.demo import run_demo

print(run_demo(load_config("demo")))   # about half an hour on a 2-core CPU
```
"""

from __future__ import annotations

import json
import logging
import math
import pathlib
import time

from kerasemo import config as config_lib
from kerasemo.training.distillation import STUDENT
from kerasemo.training.teacher import CHECKPOINT

logger = logging.getLogger(__name__)

DEFAULT_CORPUS = pathlib.Path("data") / "synthetic"
DEFAULT_WORK = pathlib.Path("runs") / "demo"
DEFAULT_SHARDS = pathlib.Path("tfrecords") / "demo"
TEACHER_RUN = "teacher"
"""The teacher's run folder inside the work folder."""
DISTILL_RUN = "distill"
"""The distillation's run folder inside the work folder (unless ``out=``)."""
DEFAULT_TEACHER = DEFAULT_WORK / TEACHER_RUN / CHECKPOINT
"""Where the main job writes its face teacher: ``runs/demo/teacher/teacher.keras``."""
DEFAULT_STUDENT = DEFAULT_WORK / DISTILL_RUN / STUDENT
"""Where the main job writes its speech student: ``runs/demo/distill/student.keras``."""
PROBE_SETS = ("rml", "cremad")
PROTOCOLS = ("random10", "speaker")
PROBE_METHODS = ("chance", "acoustic", "student", "teacher")
"""The rows of the probe tables that the main job's summary repeats, in its order."""
VERDICT_PROTOCOL = "speaker"
REPRODUCIBLE_ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "0"}
"""What the main job's entry point sets (unless already set) before TensorFlow loads: oneDNN's
threaded CPU kernels round differently from run to run, which SGD amplifies into a different
student each time; TensorFlow's own (Eigen) kernels with `distill.deterministic` give the same
student, figures and files on every run of the same machine, at about 1.5x the run time."""
"""The folds the transfer verdict is judged by (speaker-independent); always probed."""


def _stage(name: str, done: bool) -> bool:
    logger.info("== %s: %s", name, "skipping (output exists)" if done else "running")
    return not done


def ground_truth_recovery(corpus: pathlib.Path, logits_file: pathlib.Path) -> dict:
    """How much of the teacher's (face) accuracy the student recovers from voice alone.

    Both are scored on the same held-out tracks against the corpus's ground truth
    (`kerasemo.evaluation.transfer`): accuracy of the argmax, and the mean one-vs-rest ROC AUC
    over the emotions present (the student's probability against the true emotion).

    Args:
        corpus: the synthetic corpus (its ``ground_truth`` folder is read).
        logits_file: a distillation run's ``unheard_val_logits.npz``.

    Returns:
        A dict with teacher and student accuracy and AUC, the majority-class accuracy, and
        ``recovery`` = (student AUC - 0.5) / (teacher AUC - 0.5).

    Example:

    >>> ground_truth_recovery("data/synthetic", "runs/demo/distill/unheard_val_logits.npz")  # doctest: +SKIP
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


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _num(value, spec=".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _probe_rows(probe: dict, other_metrics: dict) -> list[str]:
    """One row per set and protocol: each method's accuracy (+- std over folds), UAR and macro-F1."""
    from kerasemo.evaluation.probing.classifiers import METRIC_TITLES

    lines = []
    for dataset, scores in probe.items():
        for protocol in PROTOCOLS:
            cells = []
            for method, protocols in scores.items():
                value = protocols.get(protocol)
                if value is None:
                    continue
                mean, std = value
                spread = "" if std is None or math.isnan(std) else f" +- {100 * std:.1f}"
                others = [
                    other_metrics.get(metric, {}).get(dataset, {}).get(method, {}).get(protocol)
                    for metric in other_metrics
                ]
                extra = "".join(f" / {_pct(v[0])}" for v in others if v is not None)
                cells.append(f"{method} {100 * mean:.1f}{spread}{extra}")
            if cells:
                heading = " / ".join(METRIC_TITLES[m] for m in ("accuracy", *other_metrics))
                lines.append(f"| probe {dataset}, {protocol} folds | {heading}, % | {'; '.join(cells)} |")
    return lines


def results_markdown(results: dict) -> str:
    """The main job's results (the dict `run_demo` writes as ``results.json``) as a markdown table.

    Example:

    >>> results = json.load(open("runs/demo/results.json"))  # doctest: +SKIP
    >>> print(results_markdown(results))  # doctest: +SKIP
    """
    teacher, distilled = results["teacher"], results["distill"]
    lines = [
        "# kerasemo on the embedded synthetic corpus",
        "",
        "Synthetic data, not a substitute for real data: these numbers show the method works end "
        "to end, not how it does on VoxCeleb (paper figures in parentheses).",
        "",
        "| stage | figure | value |",
        "|---|---|---|",
        f"| teacher (faces) | PrivateTest accuracy, % | {_pct(teacher.get('accuracy'))} "
        f"(pixel logistic regression {_pct(teacher.get('baseline_accuracy'))}) |",
        f"| student vs teacher | mean ROC AUC, heard identities | {_num(distilled['heard_val_auc'])} (paper 0.71) |",
        f"| student vs teacher | mean ROC AUC, unheard identities | {_num(distilled['unheard_val_auc'])} (paper 0.69) |",
        f"| student vs teacher | heard - unheard (identity shortcut) | {_num(distilled['gap'], '+.3f')} |",
    ]
    truth = results.get("ground_truth")
    if truth:
        lines += [
            f"| ground truth, unheard tracks ({truth['tracks']}) | teacher (faces) accuracy / AUC | "
            f"{_pct(truth['teacher']['accuracy'])} % / {_num(truth['teacher']['mean_auc'])} |",
            f"| ground truth, unheard tracks | student (voice) accuracy / AUC | "
            f"{_pct(truth['student']['accuracy'])} % / {_num(truth['student']['mean_auc'])} |",
            f"| ground truth, unheard tracks | majority-class accuracy | {_pct(truth['majority_accuracy'])} % |",
            f"| ground truth | student's share of the teacher's above-chance AUC | {_num(truth['recovery'], '.2f')} |",
        ]
    lines += _probe_rows(results.get("probe", {}), results.get("probe_metrics", {}))
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


def probe_protocols(experiment: config_lib.ExperimentConfig) -> tuple[str, ...]:
    """The probe protocols of the main job: ``evaluation.probe_protocol`` first (the primary one,
    drawn in ``confusion.png``), then the others, as `ProbeOptions.from_config` orders them; the
    speaker-independent folds the verdict is judged by are always among them.

    Example:

    >>> probe_protocols(config_lib.load_config("demo"))
    ('random10', 'speaker')
    """
    from kerasemo.evaluation.probing import ProbeOptions

    return ProbeOptions.from_config(experiment, out_dir=".").protocol


def _probe(experiment, corpus: pathlib.Path, work: pathlib.Path, student: pathlib.Path, teacher: pathlib.Path,
           progress: bool) -> tuple[dict, dict]:
    """Probes student, teacher and baselines on each acted set.

    Returns:
        ``(accuracy, others)``: dataset -> method -> protocol -> (mean, std) of the accuracy (what
        the verdict reads), and the same for each other metric (``{"uar": ..., "macro_f1": ...}``).
    """
    from kerasemo.evaluation.probing import ProbeOptions, run_probe
    from kerasemo.evaluation.probing.classifiers import METRICS

    scores, others = {}, {metric: {} for metric in METRICS if metric != "accuracy"}
    for dataset in PROBE_SETS:
        # The config's folds, seed, primary protocol and frame sampling (one mapping: from_config).
        options = ProbeOptions.from_config(
            experiment, out_dir=work / "probe" / dataset, cache_dir=work / "cache", progress=progress
        )
        probe = run_probe(dataset, corpus / dataset, student, teacher=teacher, options=options)
        methods = [m for m in PROBE_METHODS if any(row.method == m for row in probe.methods)]
        scores[dataset] = {m: {p: probe.score(m, p) for p in PROTOCOLS} for m in methods}
        for metric in others:
            others[metric][dataset] = {
                m: {p: probe.score(m, p, metric) for p in PROTOCOLS} for m in methods
            }
    return scores, others


def _train(experiment, corpus, work, shards, out, lap, force: bool, verbose: int) -> None:
    """Stages 2-4 (teacher, shards, distillation), each skipped when its output exists."""
    from kerasemo.data.build_stage import build_from_config
    from kerasemo.data.emovoxceleb import BuildOptions
    from kerasemo.training import distill, train_teacher
    from kerasemo.training.teacher import METRICS

    teacher_dir = work / TEACHER_RUN
    if _stage("teacher", (teacher_dir / METRICS).exists()):
        result = train_teacher(
            experiment, corpus / "ferplus", teacher_dir, cache_dir=shards.parent, resume=teacher_dir.exists(),
            verbose=verbose,
        )
        logger.info("%s", result.table)
    lap("teacher")
    if _stage("EmoVoxCeleb shards", (shards / "manifest.csv").exists()):
        build = build_from_config(
            experiment, corpus, shards, layout="voxceleb1", teacher=teacher_dir / CHECKPOINT,
            options=BuildOptions(progress=verbose == 1),
        )
        logger.info("wrote %d tracks into %s", build.tracks_written, shards)
    lap("shards")
    logger.info("== distillation")
    distill(experiment, shards, out, force=force, verbose=verbose)  # skips a finished run of these settings
    lap("distillation")


def _evaluate(experiment, corpus, work, shards, out, progress: bool) -> dict:
    """Stages 5-6: the figures of the finished stages, the probes, the ground truth, the verdict."""
    from kerasemo.evaluation.transfer import plot_training_curve, transfer_verdict
    from kerasemo.training.teacher import METRICS

    auc = json.loads((out / "auc.json").read_text())
    teacher_metrics = json.loads((work / TEACHER_RUN / METRICS).read_text())
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
    results["probe"], results["probe_metrics"] = _probe(
        experiment, corpus, work, out / STUDENT, work / TEACHER_RUN / CHECKPOINT, progress
    )
    results["verdict"] = transfer_verdict(results["probe"], protocol=VERDICT_PROTOCOL)
    plot_training_curve(
        out / "distiller_history.csv",
        work / "learning_curve.png",
        steps_per_epoch=_train_steps_per_epoch(shards, experiment.distill.batch_size),
        title="Distillation on the synthetic corpus",
    )
    return results


def run_demo(
    experiment: config_lib.ExperimentConfig,
    *,
    corpus: str | pathlib.Path = DEFAULT_CORPUS,
    work: str | pathlib.Path = DEFAULT_WORK,
    shards: str | pathlib.Path = DEFAULT_SHARDS,
    out: str | pathlib.Path | None = None,
    corpus_preset: str = "demo",
    force: bool = False,
    verbose: int = 1,
) -> str:
    """Runs every stage on the synthetic corpus; returns the results table as markdown.

    Writes ``results.md``, ``results.json`` (strict JSON: no NaN) and ``learning_curve.png``
    (the distillation's loss and teacher agreement against SGD steps) in `work`.

    Args:
        experiment: the resolved configuration every stage uses.
        corpus: the synthetic corpus folder (generated on first use).
        work: folder for the teacher, probe runs and results.
        shards: folder for the EmoVoxCeleb-style shards.
        out: the distillation run (default ``<work>/distill``).
        corpus_preset: the corpus size (`kerasemo.data.synthetic.PRESETS`).
        force: train the distillation again even when `out` holds a finished run.
        verbose: Keras' ``verbose=`` of the training stages: 0 silent, 1 progress bars (also
            the corpus, build and probe bars), 2 one line per epoch and no bars (for output
            redirected to a file).

    Returns:
        The results table (``results.md``).

    Raises:
        FileNotFoundError, ValueError: from the stages, for missing or unusable inputs.

    Example:

    >>> table = run_demo(load_config("demo"), work="runs/demo")  # doctest: +SKIP
    """
    from kerasemo.data.synthetic import forbid_ground_truth, generate_corpus

    started = clock = time.time()
    corpus, work, shards = pathlib.Path(corpus), pathlib.Path(work), pathlib.Path(shards)
    out = pathlib.Path(out) if out else work / DISTILL_RUN
    work.mkdir(parents=True, exist_ok=True)
    stage_seconds = {}

    def lap(name):
        nonlocal clock
        now = time.time()
        stage_seconds[name], clock = now - clock, now

    logger.info("== synthetic corpus: %s", corpus)
    progress = verbose == 1
    generate_corpus(corpus, preset=corpus_preset, seed=experiment.seed, progress=progress)
    lap("corpus")
    with forbid_ground_truth(corpus):
        _train(experiment, corpus, work, shards, out, lap, force, verbose)
    results = _evaluate(experiment, corpus, work, shards, out, progress)
    lap("probes and evaluation")
    results["stage_seconds"] = stage_seconds
    results["seconds"] = time.time() - started
    results = _finite(results)
    table = results_markdown(results)
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str, allow_nan=False))
    (work / "results.md").write_text(table)
    return table
