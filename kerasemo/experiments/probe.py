"""Probe a speech student on a labelled emotion set: the paper's Table 5 and Figure 5.

Reads RML, eNTERFACE'05, CREMA-D, RAVDESS (their real layouts) or a CSV manifest
(``path,label[,speaker]``), runs the student on every full-length utterance, and
cross-validates an affine + softmax probe on its 8 outputs, beside the baselines: chance, the
training fold's majority class, eGeMAPS functionals + random forest (needs the optional
``opensmile``: pip install kerasemo[acoustic]), and the face teacher on the clips' video
(``--teacher``, where the set has video). Two protocols: ``random10`` (the authors' 10 random
folds over clips, seed 0) and ``speaker`` (speaker-independent folds); ``both`` by default.

Outputs in ``--out``: ``results.md`` and ``results.json`` (mean +- std accuracy over folds, std
with ddof 1), ``predictions.csv`` (each clip's test-fold predictions), ``confusion.png``
(teacher and student, row-normalised, truth as rows) and ``config.toml``. Every table reports
accuracy, UAR (unweighted average recall) and macro-F1. Embeddings are cached in ``--cache-dir``
(default runs/cache), so a second run only refits the probes.

``--save-head DIR`` also fits the linear probe on every clip's student logits and saves it for
export and inference: ``DIR/probe_head.keras`` (a `kerasemo.models.probe.LinearProbe`, raw
``[batch, 8]`` student logits in, ``[batch, K]`` probabilities out, input standardisation
included) and ``DIR/probe_head.json`` (``class_names``, index i = output i, with the dataset,
clip counts and the student file's SHA-256); `kerasemo.evaluation.probing.load_probe_head`
reads both.

``--student`` defaults to the main job's student (``runs/demo/distill/student.keras``, written by
``python -m kerasemo.experiments.distill``); the preset to ``paper`` (``--config`` to change it).

Examples:

    python -m kerasemo.experiments.probe --dataset rml --root /data/rml --student runs/distill/student.keras
    python -m kerasemo.experiments.probe --dataset rml --root data/synthetic/rml   # the main job's student
    python -m kerasemo.experiments.probe --dataset enterface --root "/data/enterface database" \\
        --student student.keras --teacher teacher.keras --protocol random10
    python -m kerasemo.experiments.probe --dataset csv --root my_set/manifest.csv --student student.keras
    python -m kerasemo.experiments.probe --dataset cremad --root /data/CREMA-D --student student.keras \\
        --save-head runs/heads/cremad
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import config as config_lib  # noqa: E402
from kerasemo import demo, quiet  # noqa: E402
from kerasemo import arguments  # noqa: E402

DATASETS = ("rml", "enterface", "cremad", "ravdess", "csv")
DEFAULT_OUT = pathlib.Path("runs") / "probe"
DEFAULT_CACHE = pathlib.Path("runs") / "cache"
# ProbeOptions fields that are flags of the same name.
PROBE_OPTIONS = ("protocol", "forest_trees", "face_crop", "max_pad_fraction", "ravdess_calm", "include_song")


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.probe", __doc__)
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="layout of --root")
    parser.add_argument(
        "--root",
        required=True,
        type=pathlib.Path,
        help="dataset folder (for csv: the manifest file; paths in it are relative to its folder)",
    )
    parser.add_argument("--student", type=pathlib.Path, default=demo.DEFAULT_STUDENT,
                        help="student .keras file (default: the main job's, %(default)s)")
    parser.add_argument(
        "--teacher", type=pathlib.Path, help="face teacher .keras file (rows for sets with video)"
    )
    parser.add_argument(
        "--protocol",
        choices=("random10", "speaker", "both"),
        default="both",
        help="cross-validation protocol(s) (default both; with both, evaluation.probe_protocol "
        "(random10 unless --set) is the primary one, drawn in confusion.png)",
    )
    parser.add_argument("--folds", type=int, help="override evaluation.probe_folds (the preset's)")
    parser.add_argument("--seed", type=int, help="override evaluation.probe_seed (the preset's)")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--cache-dir", type=pathlib.Path, default=DEFAULT_CACHE, help="embedding cache")
    parser.add_argument("--no-cache", action="store_true", help="recompute every embedding")
    parser.add_argument(
        "--no-acoustic", action="store_true", help="skip the eGeMAPS + random forest baseline"
    )
    parser.add_argument("--forest-trees", type=arguments.positive_int, default=300,
                        help="trees of the acoustic random forest")
    parser.add_argument("--ravdess-calm", choices=("drop", "neutral"), default="drop",
                        help="RAVDESS 'calm': drop it or merge it into neutral")
    parser.add_argument("--include-song", action="store_true", help="RAVDESS: read the song channel too")
    parser.add_argument("--face-crop", choices=("center", "full"), default="center",
                        help="teacher input: centred square of each frame or the whole frame")
    parser.add_argument("--max-pad-fraction", type=float, default=0.0,
                        help="batch clips whose lengths differ by up to this fraction (padding; 0: exact)")
    parser.add_argument(
        "--save-head",
        type=pathlib.Path,
        metavar="DIR",
        help="also fit the probe on all clips and save it in DIR (probe_head.keras + probe_head.json)",
    )
    config_lib.add_config_arguments(parser)
    arguments.add_verbosity_arguments(parser)
    return parser


def _probe_overrides(args) -> list[str]:
    """``--folds`` and ``--seed`` as the ``--set`` overrides they stand for."""
    flags = {"evaluation.probe_folds": args.folds, "evaluation.probe_seed": args.seed}
    return [f"{key}={value}" for key, value in flags.items() if value is not None]


def _check_models(args) -> None:
    """Stops when the student or the teacher file is missing, saying who writes the default."""
    if not args.student.is_file():
        writer = (
            "; the main job writes it there: run `python -m kerasemo.experiments.distill` first, "
            "or pass --student PATH"
            if args.student == demo.DEFAULT_STUDENT
            else ""
        )
        raise SystemExit(f"error: --student {str(args.student)!r} does not exist{writer}.")
    if args.teacher is not None and not args.teacher.is_file():
        raise SystemExit(f"error: --teacher {str(args.teacher)!r} does not exist.")


def main(argv: list[str] | None = None) -> int:
    args, experiment = arguments.start(build_parser(), argv, extra_overrides=_probe_overrides)
    _check_models(args)
    quiet.import_tensorflow_quietly()
    from kerasemo.audio import AudioDecodeError
    from kerasemo.evaluation.probing import ProbeOptions, run_probe

    with arguments.one_line_errors():
        options = ProbeOptions.from_config(
            experiment,
            out_dir=args.out,
            cache_dir=None if args.no_cache else args.cache_dir,
            acoustic=not args.no_acoustic,
            head_dir=args.save_head,
            progress=arguments.progress_bars(args),
            **arguments.named(args, *PROBE_OPTIONS),
        )
    with arguments.one_line_errors(NotADirectoryError, AudioDecodeError):
        results = run_probe(args.dataset, args.root, args.student, teacher=args.teacher, options=options)
    print(results.to_markdown())
    print("wrote " + ", ".join(results.files.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
