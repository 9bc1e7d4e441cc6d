"""Build EmoVoxCeleb-style TFRecord shards: face-teacher frame logits + track audio.

Scans talking-face tracks in a VoxCeleb1, VoxCeleb2 or extracted-frames layout, labels one
frame every 0.24 s with the face teacher (or takes the authors' released frame logits with
--logits), stores each track's audio as the 257-bin recipe spectrogram (or int16 waveform), and
writes one example per track into identity-disjoint train / heard_val / unheard_val shards, with
a manifest, the frame-level logits export, the dominant-emotion histogram and per-split counts.

Examples:

    # the demo shards from the synthetic corpus (make_synthetic) and the demo teacher
    # (train_teacher without --data):
    python -m kerasemo.experiments.build_emovoxceleb --root data/synthetic --layout voxceleb1 \\
        --teacher runs/teacher/teacher.keras --out tfrecords/demo --config demo
    python -m kerasemo.experiments.build_emovoxceleb --root data/voxceleb1 --layout voxceleb1 \\
        --teacher saved_models/teacher.keras --out tfrecords/emovoxceleb
    python -m kerasemo.experiments.build_emovoxceleb --root data/voxceleb1 --layout voxceleb1 \\
        --logits senet50-ferplus-logits.mat --out tfrecords/emovoxceleb --splits file
    # four machines sharing tfrecords/emovoxceleb, each building a quarter of the shard files:
    python -m kerasemo.experiments.build_emovoxceleb ... --num-shards 4 --shard-index 2
    python -m kerasemo.experiments.build_emovoxceleb --out tfrecords/emovoxceleb --finalize

Rerunning the same command resumes: finished shard files are kept and skipped; the rest are
rebuilt. The output folder then holds <split>-<index>-of-<count>.tfrecord shards, manifest.csv /
.parquet, frame_logits.npz / .mat, figure4_dominant_emotions.png, summary.md, build_report.json,
config.toml, plan.json and parts/ (per-shard sidecars).
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
from kerasemo.data.build_stage import LAYOUTS  # noqa: E402
from kerasemo.data.frames import BORDERS  # noqa: E402
from kerasemo.data.emovoxceleb.options import AUDIO_KINDS, SPLIT_SOURCES, VIDEO_CROPS, BuildOptions  # noqa: E402
from kerasemo import arguments  # noqa: E402

TEACHER_HINT = (
    "a face teacher .keras: `python -m kerasemo.experiments.train_teacher` writes teacher.keras "
    f"in its --out folder; the main job's is {demo.DEFAULT_TEACHER}"
)
DEFAULTS = BuildOptions()
"""The builder's defaults, which the flags take."""
# BuildOptions fields that are flags of the same name, shared by both engines.
SHARED_OPTIONS = (
    "audio", "shard_mb", "context_margin", "border", "video_crop", "jpeg_center_crop", "batch_size",
)


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.build_emovoxceleb", __doc__)
    add_build_arguments(parser, engine="local")
    return parser


def add_build_arguments(parser: argparse.ArgumentParser, *, engine: str) -> None:  # long: one declaration per flag
    """Adds the builder's arguments to `parser`.

    Args:
        parser: the entry point's parser.
        engine: ``"local"`` (this entry point: adds the parts, ``--finalize`` and
            ``--workers``) or ``"beam"`` (`build_emovoxceleb_beam`: the runner parallelises).
    """
    data = parser.add_argument_group("input")
    data.add_argument("--root", type=pathlib.Path, help="dataset folder (see --layout)")
    data.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="voxceleb1: txt/ (pixel boxes, 360-high frame) + wav/ (+ video/ or frames/); "
        "voxceleb2: txt/ (normalised boxes) + aac/ m4a or mp4/; frames: the authors' "
        "frames/<identity>/1.6/<video>/<track>/*.jpg + wav/",
    )
    labels = data.add_mutually_exclusive_group()
    labels.add_argument("--teacher", type=pathlib.Path, help="face teacher (.keras or .weights.h5)")
    labels.add_argument(
        "--logits",
        type=pathlib.Path,
        help="the authors' released frame-level logits (.mat with wavLogits + images.name) "
        "instead of a teacher; also reads this tool's frame_logits.mat",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=pathlib.Path, default=pathlib.Path("tfrecords") / "emovoxceleb",
                        help="output folder; rerun to resume")
    output.add_argument("--audio", choices=AUDIO_KINDS, default=DEFAULTS.audio,
                        help="store the 257-bin float16 recipe spectrogram or int16 waveform")
    output.add_argument("--shard-mb", type=float, default=DEFAULTS.shard_mb, help="target shard size in MB")
    output.add_argument(
        "--splits",
        choices=SPLIT_SOURCES,
        default=DEFAULTS.split_source,
        help="identity-disjoint splits from the seed and config.splits, or the logits file's own sets "
        "(with --logits)",
    )
    if engine == "local":
        parts = parser.add_argument_group("several processes or machines")
        parts.add_argument(
            "--num-shards",
            type=int,
            default=1,
            metavar="N",
            help="split the planned shard files into N disjoint parts (one per process/machine)",
        )
        parts.add_argument(
            "--shard-index",
            type=int,
            default=0,
            metavar="I",
            help="build part I (0-based) of --num-shards; the part that completes the set "
            "finalises",
        )
        parts.add_argument(
            "--finalize",
            action="store_true",
            help="only write the manifest, exports, figure and summary of a complete build in "
            "--out (no --root needed)",
        )
    frames = parser.add_argument_group("face crops")
    frames.add_argument(
        "--context-margin",
        type=float,
        default=DEFAULTS.context_margin,
        help="context around the face box on every side, as a fraction of its longer side "
        "(0.0: the box, squared, as the authors feed their teacher)",
    )
    frames.add_argument("--border", choices=BORDERS, default=DEFAULTS.border,
                        help="crop windows leaving the frame: zero-pad or move inside")
    frames.add_argument(
        "--video-crop",
        choices=VIDEO_CROPS,
        default=DEFAULTS.video_crop,
        help="crop decoded video frames with the txt box, or use them whole (already face "
        "crops); auto: whole for VoxCeleb2's 224x224 clips, box otherwise",
    )
    frames.add_argument(
        "--jpeg-center-crop",
        type=float,
        default=DEFAULTS.jpeg_center_crop,
        help="centred fraction of each extracted JPEG to keep (1.0: as is; the authors use "
        "0.625 = 1/1.6 on their 1.6x-context crops)",
    )
    run = parser.add_argument_group("execution")
    run.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                     help="face crops per teacher batch")
    if engine == "local":
        run.add_argument("--workers", type=int, default=DEFAULTS.workers,
                         help="decoding threads running ahead of the teacher (0: none)")
        run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    config_lib.add_config_arguments(parser)
    arguments.add_verbosity_arguments(parser)


def check_build_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exits through `parser.error` when the corpus or the labels are missing or inconsistent."""
    if args.root is None or args.layout is None:
        parser.error("--root and --layout are required (unless --finalize)")
    if args.teacher is None and args.logits is None:
        parser.error(f"give --teacher PATH ({TEACHER_HINT}) or --logits FILE (released logits)")
    if args.splits == "file" and args.logits is None:
        parser.error("--splits file needs --logits (the file's own sets)")
    if not args.root.is_dir():
        raise SystemExit(f"error: --root '{args.root}' does not exist or is not a folder.")
    if args.teacher is not None and not args.teacher.is_file():
        raise SystemExit(f"error: Teacher file not found: '{args.teacher}' ({TEACHER_HINT}).")


def options_from_args(args: argparse.Namespace, **engine_options):
    """`emovoxceleb.BuildOptions` from the shared arguments plus the engine's own ones."""
    with arguments.one_line_errors():
        return BuildOptions(
            **arguments.named(args, *SHARED_OPTIONS), split_source=args.splits, **engine_options
        )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, experiment = arguments.start(parser, argv)
    quiet.import_tensorflow_quietly()
    from kerasemo.data import emovoxceleb
    from kerasemo.data.build_stage import build_from_config

    if args.finalize:
        with arguments.one_line_errors(emovoxceleb.IncompleteBuildError, emovoxceleb.PlanMismatchError):
            summary = emovoxceleb.finalize(args.out)
        print_summary(args.out, summary)
        return 0

    if args.num_shards < 1 or not 0 <= args.shard_index < args.num_shards:
        parser.error(
            f"--shard-index must be in [0, --num-shards); received --num-shards {args.num_shards} "
            f"--shard-index {args.shard_index}"
        )
    check_build_arguments(parser, args)
    options = options_from_args(
        args,
        num_parts=args.num_shards,
        part_index=args.shard_index,
        workers=args.workers,
        progress=arguments.progress_bars(args) and not args.no_progress,
    )
    with arguments.one_line_errors(emovoxceleb.PlanMismatchError):
        result = build_from_config(
            experiment, args.root, args.out, layout=args.layout, teacher=args.teacher,
            logits=args.logits, options=options,
        )

    print_result(result, f"part {args.shard_index} of {args.num_shards}")
    if result.finalized:
        print_summary(args.out, result.summary)
    else:
        print(
            "Not finalised yet: other parts' shard files are missing. When all parts are done, "
            f"run: python -m kerasemo.experiments.build_emovoxceleb --out {args.out} --finalize"
        )
    return 0


def print_result(result, who: str) -> None:
    """One line: what this build call wrote and kept, and its rate."""
    rate = (result.tracks_written + result.tracks_failed) / max(result.wall_seconds, 1e-9)
    print(
        f"{who}: built {len(result.built_shards)} shard "
        f"files ({result.tracks_written} tracks, {result.tracks_failed} skipped, "
        f"{rate:.1f} tracks/s), kept {len(result.existing_shards)} finished ones; "
        f"{len(result.plan.shards)} planned in all."
    )


def print_summary(out: pathlib.Path, summary) -> None:
    """The finalised build's summary and the files written."""
    print()
    print(summary.markdown)
    print("wrote " + ", ".join(str(out / name) for name in summary.files.values()))


if __name__ == "__main__":
    sys.exit(main())
