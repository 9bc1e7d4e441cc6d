r"""Speech emotion of audio or video files: one row per file, and per-window timelines on request.

Inputs are files, folders (searched recursively for audio and video files) and CSV manifests
(a ``path`` column, relative to the manifest's folder; its other columns are carried into the
output). Each file is scored as a whole (the student over the whole utterance, as
`EmotionRecognizer.predict` does; files longer than 30 s, and any longer than a ``.tflite``
model's window, are the mean of their timeline windows), a batch of files per model call.

Output: one row per file, ``file``, the manifest's columns, ``duration_s``, one probability per
emotion (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt), ``dominant``,
and with a probe head (``--head``, or one built into the export) ``head_<class>`` and
``head_label``; to each ``--out`` (``.csv``, ``.parquet`` or ``.json``, by suffix) or as CSV on
standard output. ``--timeline`` also writes every file's windows (``--window`` seconds, default
the model's training crop, every ``--hop`` seconds, default 2; the last window is scored on the
audio it holds); ``--plot`` draws each timeline as a PNG.

Files that cannot be read or scored are skipped: they are summarised on standard error and
listed by reason in ``<out>.skipped.json`` beside the first output file, and the exit status is
3 (0 when every file was scored).

The model (``--model``) is an export folder or SavedModel (default ``saved_models/kerasemo``), a
``.tflite`` model (one fixed window) or a student ``.keras`` file.

Examples:

    python -m kerasemo.experiments.predict interview.m4a
    python -m kerasemo.experiments.predict recordings/ clips.csv --out results.parquet \
        --head runs/heads/rml
    python -m kerasemo.experiments.predict talk.mp4 --timeline talk.csv --hop 1 --plot talk.png
    python -m kerasemo.experiments.predict a.wav b.flac --model runs/demo/distill/student.keras
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import arguments  # noqa: E402
from kerasemo.arguments import positive_int, positive_seconds  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_MODEL = pathlib.Path("saved_models") / "kerasemo"
EXIT_SKIPPED = 3
"""Exit status when some files were skipped (their list is in the skip report)."""
SKIP_REPORT_SUFFIX = ".skipped.json"


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.predict", __doc__)
    parser.add_argument(
        "inputs",
        nargs="+",
        type=pathlib.Path,
        metavar="INPUT",
        help="audio or video files, folders (searched recursively) or CSV manifests",
    )
    parser.add_argument(
        "--model",
        type=pathlib.Path,
        default=DEFAULT_MODEL,
        help=f"export folder, SavedModel, .tflite or student .keras (default: {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        action="append",
        metavar="FILE",
        help="per-file results, .csv, .parquet or .json by suffix; repeatable (default: CSV on "
        "standard output)",
    )
    for flag, metavar, text in (
        ("--head", "DIR", "a probe head written by `probe --save-head DIR`, for a model "
         "without one built in"),
        ("--timeline", "FILE", "also write every file's per-window rows: .csv, .parquet, or "
         ".json (one document per file)"),
        ("--plot", "PNG", "draw each timeline as a PNG; with several files, one each, named "
         "<PNG stem>-<file stem>.png"),
    ):
        parser.add_argument(flag, type=pathlib.Path, metavar=metavar, help=text)
    parser.add_argument(
        "--window",
        type=positive_seconds,
        help="timeline window in seconds (default: the model's training crop; 4.024 for the "
        "paper's)",
    )
    parser.add_argument(
        "--hop", type=positive_seconds, help="seconds between timeline windows (default: 2)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help="clips per model call (default: kerasemo.inference.DEFAULT_BATCH_SIZE, 8)",
    )
    parser.add_argument("--threads", type=positive_int, help="LiteRT threads for .tflite models")
    arguments.add_verbosity_arguments(parser)
    return parser


def missing_model_message(model: pathlib.Path) -> str:
    """What to do without a model: where the main job's student is, and how to export it."""
    from kerasemo import demo
    from kerasemo.training.distillation import STUDENT

    student = demo.DEFAULT_WORK / "distill" / STUDENT
    return (
        f"No model at '{model}'. The main job (`python -m kerasemo.experiments.distill`, or "
        f"`make demo`) writes its student to {student}; export it with `python -m "
        f"kerasemo.experiments.export --student {student} --out {DEFAULT_MODEL}`, or score with "
        f"the student itself: `--model {student}`."
    )


def _load_recognizer(args: argparse.Namespace):
    if not args.model.exists():
        raise SystemExit(f"error: {missing_model_message(args.model)}")
    from kerasemo.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from kerasemo.inference import EmotionRecognizer

    with arguments.one_line_errors():
        return EmotionRecognizer.from_path(args.model, args.head, num_threads=args.threads)


def _plot_path(plot: pathlib.Path, source: str, several: bool) -> pathlib.Path:
    if not several:
        return plot
    return plot.with_name(f"{plot.stem}-{pathlib.Path(source).stem}{plot.suffix or '.png'}")


def _write_timelines(path: pathlib.Path, timelines, recognizer) -> None:
    """Every file's windows: a table (CSV/Parquet), or one JSON document with each timeline."""
    import pandas as pd

    from kerasemo import emotions
    from kerasemo.inference import write_table

    if path.suffix.lower() == ".json":
        document = {
            "model": recognizer.source,
            "model_format": recognizer.format,
            "classes": list(emotions.CLASSES),
            "head_classes": list(recognizer.head_classes or []) or None,
            "files": [timeline.to_dict() for _, timeline in timelines],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    else:
        frames = [timeline.to_frame(file) for file, timeline in timelines]
        write_table(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), path)
    logger.info("wrote %s", path)


def _report_skipped(skipped, total: int, outputs: list[pathlib.Path]) -> None:
    """Writes the skip report beside the first output, and summarises any skipped on stderr."""
    where = "".join(f"\n  {file}: {message}" for file, message in skipped.messages.items())
    if outputs:
        report = outputs[0].with_name(outputs[0].stem + SKIP_REPORT_SUFFIX)
        report.write_text(json.dumps(skipped.to_dict(), indent=2) + "\n", encoding="utf-8")
        where = f"; the list is in {report}"
    if skipped.total:
        print(f"{skipped.summary(total)}{where}", file=sys.stderr)


def _table_outputs(args: argparse.Namespace) -> list[pathlib.Path]:
    """The files this run writes tables to: every ``--out``, then ``--timeline``."""
    return list(args.out or []) + ([args.timeline] if args.timeline else [])


def _write_plots(args: argparse.Namespace, timelines, several: bool) -> None:
    for file, timeline in timelines:
        png = _plot_path(args.plot, file, several)
        png.parent.mkdir(parents=True, exist_ok=True)
        timeline.plot().savefig(png, dpi=100)
        logger.info("wrote %s", png)


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse(build_parser(), argv)
    recognizer = _load_recognizer(args)

    from kerasemo.inference import (
        DEFAULT_BATCH_SIZE,
        check_table_suffix,
        collect_inputs,
        predict_files,
        table_to_csv,
        write_table,
    )

    with arguments.one_line_errors():
        for path in _table_outputs(args):
            check_table_suffix(path)
        files = collect_inputs(args.inputs)
        result = predict_files(
            recognizer,
            files,
            batch_size=args.batch_size or DEFAULT_BATCH_SIZE,
            timelines=bool(args.timeline or args.plot),
            window=args.window,
            hop=args.hop,
            progress=arguments.verbosity(args) >= 0 and sys.stderr.isatty(),
        )
    for path in args.out or []:
        write_table(result.table, path)
        logger.info("wrote %s (%d rows)", path, len(result.table))
    if not args.out:
        sys.stdout.write(table_to_csv(result.table))
    if args.timeline:
        _write_timelines(args.timeline, result.timelines, recognizer)
    if args.plot:
        _write_plots(args, result.timelines, several=len(files) > 1)
    _report_skipped(result.skipped, len(files), _table_outputs(args))
    return EXIT_SKIPPED if result.skipped.total else 0


if __name__ == "__main__":
    sys.exit(main())
