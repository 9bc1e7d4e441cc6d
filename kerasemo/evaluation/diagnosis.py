"""Where does transfer stop? Oracle ceiling, learning curves and target quality on the synthetic corpus.

`diagnose_transfer` answers, on the embedded default, whether a weak student is limited by the
signal (the voice does not carry the emotion), the targets (the teacher's pooled logits do not
carry it), the data (too few tracks or speakers to generalise) or the compute (too few steps):

1. **targets**: ground-truth scores of the teacher's max-pooled targets on unheard tracks
   (`kerasemo.evaluation.transfer.teacher_target_scores`), against the face's and the voice's
   truth;
2. **oracle**: the same student and budget trained on the voice's latent emotion instead of the
   teacher (`write_oracle_shards`): its ceiling;
3. **learning curves**: each setting's ground-truth AUC and speaker-independent probe accuracy
   against SGD steps (`GroundTruthCurve`), drawn in ``learning_curves.png``.

It reads the ground truth on purpose and never runs inside the main job.

Example:

```python
from kerasemo.config import load_config
from kerasemo.evaluation.diagnosis import diagnose_transfer

report = diagnose_transfer(load_config("demo"), "data/synthetic", "tfrecords/demo", "runs/diagnosis",
                           variants={"demo": [], "previous": ["frontend.mirror=true"]})
report["runs"]["oracle"]["final"]["auc"]
```
"""

from __future__ import annotations

import json
import logging
import pathlib
import time

from kerasemo import config as config_lib
from kerasemo.evaluation import transfer

logger = logging.getLogger(__name__)

PREVIOUS_RECIPE = (
    "student.log_magnitude=false",
    "frontend.mirror=true",
    "distill.learning_rate_start=1e-3",
    "distill.learning_rate_end=1e-4",
)
"""The demo recipe before log magnitudes, 257 bins and the higher learning rate, as overrides of
the ``demo`` preset: the VGGVox input (linear magnitudes, 512 mirrored bins) with the old rates,
on the same corpus."""

PROBE_SETS = ("rml", "cremad")


def _train_with_curve(experiment, shards, out_dir, validation, probe_sets, every, truth, verbose):
    from kerasemo.training import distill

    curve = transfer.GroundTruthCurve(validation, truth, probe_sets, every=every)
    started = time.perf_counter()
    # force: every call trains (and scores) its student from scratch.
    result = distill(experiment, shards, out_dir, verbose=verbose, extra_callbacks=[curve], force=True)
    return {
        "points": curve.points,
        "final": curve.points[-1] if curve.points else None,
        "seconds": time.perf_counter() - started,
        "epochs": result.epochs_run,
        "best_epoch": result.best_epoch,
        "auc_vs_teacher": {k: (v["mean"] if isinstance(v, dict) else v) for k, v in result.auc.items()},
    }


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _verdict(report: dict) -> list[str]:
    """Plain-language reading of the measurements (which limit dominates)."""
    lines = []
    targets = report["targets"]["voice"]["mean_auc"]
    runs = report["runs"]
    oracle = runs.get("oracle", {}).get("final") or {}
    lines.append(
        f"Targets: the teacher's pooled logits score {_num(targets)} ROC AUC against the voice's "
        f"truth (face: {_num(report['targets']['face']['mean_auc'])})."
    )
    if oracle:
        lines.append(
            f"Oracle ceiling (same student and budget, trained on the voice's truth): AUC "
            f"{_num(oracle['auc'])}, probes "
            + ", ".join(f"{k} {100 * v:.1f} %" for k, v in oracle["probe"].items())
            + "."
        )
    for name, run in runs.items():
        if name == "oracle" or not run.get("points"):
            continue
        points = run["points"]
        first, last = points[0], points[-1]
        lines.append(
            f"{name}: AUC {_num(first['auc'])} after {first['steps']} steps -> {_num(last['auc'])} after "
            f"{last['steps']} steps; probes "
            + ", ".join(f"{k} {100 * v:.1f} %" for k, v in last["probe"].items())
            + f" ({run['seconds'] / 60:.1f} min)."
        )
    return lines


def diagnose_transfer(
    experiment: config_lib.ExperimentConfig,
    corpus,
    shards,
    out_dir,
    *,
    variants: dict[str, list[str]] | None = None,
    oracle: bool = True,
    every: int = 2,
    verbose: int | str = 0,
) -> dict:
    """Runs the diagnosis; writes ``diagnosis.json``, ``diagnosis.md`` and ``learning_curves.png``.

    Args:
        experiment: the configuration every run starts from (the oracle uses it unchanged).
        corpus: the synthetic corpus folder (its ground truth is read).
        shards: the distillation shards built from it by the main job.
        out_dir: where each run and the report go.
        variants: setting name -> ``--set`` overrides applied to `experiment` (default: just
            `experiment` itself, as ``"demo"``).
        oracle: also train the oracle student.
        every: score the students every `every` epochs.
        verbose: Keras progress-bar setting of the training runs.

    Returns:
        The report as a dict (what ``diagnosis.json`` holds).
    """
    corpus, shards, out_dir = pathlib.Path(corpus), pathlib.Path(shards), pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    variants = {"demo": []} if variants is None else dict(variants)
    from kerasemo.data import pipeline

    truth = transfer.track_truth(corpus, "face")
    # The unheard tracks every curve scores, read once (the oracle shards hold the same audio).
    validation = list(
        pipeline.validation_dataset(
            pipeline.shard_files(shards, "unheard_val"), pooling=experiment.frames.pooling, with_ids=True
        )
    )
    logger.info("diagnosis: decoding the acted probe sets ...")
    probe_sets = [transfer.load_probe_set(name, corpus / name) for name in PROBE_SETS]
    report = {
        "targets": transfer.teacher_target_scores(shards, corpus, pooling=experiment.frames.pooling),
        "runs": {},
        "variants": variants,
    }
    if oracle:
        oracle_shards = transfer.write_oracle_shards(shards, corpus, out_dir / "oracle_shards")
        logger.info("diagnosis: training the oracle student ...")
        report["runs"]["oracle"] = _train_with_curve(
            experiment, oracle_shards, out_dir / "oracle", validation, probe_sets, every, truth, verbose
        )
    for name, overrides in variants.items():
        logger.info("diagnosis: training %s %s ...", name, overrides)
        report["runs"][name] = _train_with_curve(
            config_lib.apply_overrides(experiment, overrides), shards, out_dir / name,
            validation, probe_sets, every, truth, verbose,
        )
    report["verdict"] = _verdict(report)
    transfer.plot_learning_curves(
        {name: run["points"] for name, run in report["runs"].items()},
        out_dir / "learning_curves.png",
        teacher_auc=report["targets"]["face"]["mean_auc"],
        title="Transfer diagnosis on the synthetic corpus",
    )
    (out_dir / "diagnosis.json").write_text(json.dumps(report, indent=2, allow_nan=False, default=str))
    (out_dir / "diagnosis.md").write_text("# Transfer diagnosis\n\n" + "\n".join(f"- {l}" for l in report["verdict"]) + "\n")
    return report
