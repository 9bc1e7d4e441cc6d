"""Writes the synthetic audio-visual emotion corpus (the embedded default data).

The corpus has the structure of the real problem in the real datasets' on-disk formats:
FERPlus CSVs (faces with 10 annotator votes), VoxCeleb1-layout talking-face tracks (16 kHz wav,
face-track txt, face crops every 6th frame, optional mp4), RML-like (AVI, 22,050 Hz) and
CREMA-D-like (wav) acted speech, plus a ground-truth folder for evaluation only, a contact
sheet PNG, corpus.json and README.txt. It is synthetic: procedurally drawn faces and a
source-filter voice, not a substitute for real data.

Running it again with the same preset and seed finds the corpus and skips; a different preset
or seed needs --overwrite; a folder holding anything else is never written into.

Example:

    python -m kerasemo.experiments.make_synthetic --out data/synthetic
    python -m kerasemo.experiments.make_synthetic --out data/synthetic-tiny --preset tiny --seed 3
"""

from __future__ import annotations

import argparse
import sys

from kerasemo.data.synthetic import PRESETS, CorpusExistsError, generate_corpus
from kerasemo import arguments

DEFAULT_OUT = "data/synthetic"


def build_parser() -> argparse.ArgumentParser:
    presets = "; ".join(f"{name}: {preset.description}" for name, preset in PRESETS.items())
    parser = argparse.ArgumentParser(
        prog="python -m kerasemo.experiments.make_synthetic",
        description=__doc__.split("\n\n")[0] + " " + " ".join(__doc__.split("\n\n")[1].split()),
        epilog="Presets: " + presets + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"corpus folder (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="demo", help="corpus size (default: demo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default: 0)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a corpus with another preset/seed (or regenerate the same one); "
        "a folder holding anything else is never touched",
    )
    parser.add_argument(
        "--no-contact-sheet", action="store_true", help="skip contact_sheet.png (saves about a second)"
    )
    parser.add_argument(
        "--workers", type=arguments.positive_int, default=None,
        help="processes generating faces, tracks and acted speech side by side (default: "
        "min(2, CPU count); 1 = one process); the files do not depend on it",
    )
    arguments.add_verbosity_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse(build_parser(), argv)
    if args.seed < 0:
        raise SystemExit(f"error: --seed must be >= 0; received {args.seed}.")
    with arguments.one_line_errors(CorpusExistsError):
        summary = generate_corpus(
            args.out,
            preset=args.preset,
            seed=args.seed,
            overwrite=args.overwrite,
            progress=arguments.progress_bars(args),
            contact_sheet=not args.no_contact_sheet,
            workers=args.workers,
        )
    counts = summary.counts
    if summary.skipped:
        print(f"{summary.root}: synthetic corpus (preset {summary.preset_name}, seed {summary.seed}) already complete; skipping.")
        return 0
    print(
        f"Wrote synthetic corpus (preset {summary.preset_name}, seed {summary.seed}) to {summary.root} "
        f"in {summary.seconds:.1f} s, {counts['bytes'] / 1e6:.0f} MB:\n"
        f"  faces        {counts['faces']} FERPlus rows {counts['faces_by_usage']}\n"
        f"  tracks       {counts['tracks']} ({counts['track_audio_seconds'] / 60:.1f} min) from "
        f"{counts['identities']} identities, {counts['videos']} videos; {counts['face_crops']} face crops\n"
        f"  acted        {counts['rml_clips']} RML-like + {counts['cremad_clips']} CREMA-D-like clips "
        f"({counts['acted_audio_seconds'] / 60:.1f} min)\n"
        f"  look at      {summary.root}/contact_sheet.png\n"
        f"  ground truth {summary.root}/ground_truth (evaluation only)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
