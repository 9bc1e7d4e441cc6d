r"""Emotion timeline of audio or video files: per-window probabilities and the dominant emotion.

Each file is decoded as a stream (memory stays bounded for hour-long recordings), cut into
windows of ``--window`` seconds (default: the model's own training crop, 4.024 s for the
paper's) every ``--hop`` seconds
(default 2 s), and scored by the model in batches. The last window, which reaches past the end
of the audio, is zero-padded; its ``end_s`` is the end of the audio. Files shorter than 0.1 s
are refused.

Output rows: ``file, start_s, end_s``, one probability per emotion (neutral, happiness,
surprise, sadness, anger, disgust, fear, contempt) and ``dominant``, as CSV or JSON, to
``--out`` or standard output; ``--plot`` draws each timeline as a PNG.

The model (``--model``) is an export folder or SavedModel (``saved_models/NAME``), a
``.tflite`` model (one fixed window) or a student ``.keras`` file.

Examples:

    python -m kerasemo.experiments.predict interview.m4a
    python -m kerasemo.experiments.predict talk.mp4 --hop 1 --format json --out talk.json \
        --plot talk.png
    python -m kerasemo.experiments.predict a.wav b.flac \
        --model saved_models/kerasemo/kerasemo_int8.tflite --out timeline.csv
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

from kerasemo.experiments import _arguments  # noqa: E402
from kerasemo.experiments._arguments import positive_int, positive_seconds  # noqa: E402

logger = logging.getLogger(__name__)

DEFAULT_MODEL = pathlib.Path("saved_models") / "kerasemo"


def build_parser() -> argparse.ArgumentParser:
    parser = _arguments.docstring_parser("kerasemo.experiments.predict", __doc__)
    parser.add_argument(
        "files", nargs="+", type=pathlib.Path, metavar="FILE", help="audio or video files"
    )
    parser.add_argument(
        "--model",
        type=pathlib.Path,
        default=DEFAULT_MODEL,
        help=f"export folder, SavedModel, .tflite or student .keras (default: {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="output format (default: csv)"
    )
    parser.add_argument("--out", type=pathlib.Path, help="output file (default: standard output)")
    parser.add_argument(
        "--plot",
        type=pathlib.Path,
        metavar="PNG",
        help="draw the timeline as a PNG; with several files, one PNG each, named "
        "<PNG stem>-<file stem>.png",
    )
    parser.add_argument(
        "--window",
        type=positive_seconds,
        help="window length in seconds (default: the model's training crop; 4.024 for the "
        "paper's)",
    )
    parser.add_argument(
        "--hop", type=positive_seconds, help="seconds between window starts (default: 2)"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=8, help="windows per model call (default: 8)"
    )
    parser.add_argument("--threads", type=positive_int, help="LiteRT threads for .tflite models")
    return parser


def _plot_path(plot: pathlib.Path, source: pathlib.Path, several: bool) -> pathlib.Path:
    if not several:
        return plot
    return plot.with_name(f"{plot.stem}-{source.stem}{plot.suffix or '.png'}")


def _save_plot(timeline, png: pathlib.Path) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    timeline.plot().savefig(png, dpi=100)
    logger.info("wrote %s", png)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from kerasemo import emotions
    from kerasemo.inference import EmotionRecognizer, rows_to_csv

    try:
        recognizer = EmotionRecognizer.from_path(args.model, num_threads=args.threads)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None

    several = len(args.files) > 1
    timelines, failures = [], []
    for path in args.files:
        try:
            timeline = recognizer.timeline(
                path, window=args.window, hop=args.hop, batch_size=args.batch_size
            )
        except (FileNotFoundError, IsADirectoryError, ValueError, TypeError) as err:
            # AudioDecodeError is a ValueError.
            if not several:
                raise SystemExit(f"error: {err}") from None
            logger.error("skipping %s: %s", path, err)
            failures.append(f"{path}: {err}")
            continue
        logger.info(
            "%s: %d windows over %.1f s, mostly %s",
            path,
            len(timeline),
            timeline.duration_s,
            timeline.summary().dominant,
        )
        timelines.append((path, timeline))
        if args.plot:
            _save_plot(timeline, _plot_path(args.plot, path, several))

    if args.format == "csv":
        rows = [row for path, timeline in timelines for row in timeline.to_rows(str(path))]
        text = rows_to_csv(rows, with_file=True)
    else:
        text = json.dumps(
            {
                "model": str(recognizer.source),
                "model_format": recognizer.format,
                "classes": list(emotions.CLASSES),
                "files": [{**t.to_dict(), "source": str(p)} for p, t in timelines],
            },
            indent=2,
        ) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        logger.info("wrote %s", args.out)
    else:
        sys.stdout.write(text)
    if failures:
        raise SystemExit(
            f"error: {len(failures)} of {len(args.files)} files failed:\n" + "\n".join(failures)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
