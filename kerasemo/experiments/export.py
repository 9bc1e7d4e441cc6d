r"""Export a trained student: SavedModel (TF Serving), TFLite/LiteRT models, and a model card.

Reads the ``student.keras`` that the distill stage saved and writes into ``--out``:

- ``1/``: a SavedModel (the version folder TF Serving expects) with the signatures
  ``serving_default`` (``waveform`` [batch, samples] float32 at 16 kHz, any length),
  ``waveforms_with_lengths`` (a zero-padded ``waveform`` batch and each clip's ``length``:
  every clip gets its own answer) and ``spectrogram`` ([batch, bins, frames] linear
  magnitudes); outputs ``logits``, ``probabilities`` and ``embedding`` (the paper's embedding,
  i.e. the logits), [batch, 8];
- ``kerasemo_float32.tflite``, ``kerasemo_float16.tflite``, ``kerasemo_int8.tflite``: one
  window of the student's training crop (its ``input_frames``, else the run's
  ``frontend.crop_frames``, else the paper's 4.024 s = 64,384 samples) and its valid
  ``length`` (shorter clips zero-padded), batch 1, TFLite builtin ops only;
- ``model_card.json`` (classes, input contract, front-end, student, sizes, parity, training
  settings and metrics of the run) and ``saved_model_cli.txt``.

With ``--head DIR`` (a folder written by ``probe --save-head``) every model also returns
``head_probabilities`` ([batch, K], the head's classes) and ``label`` (the most probable class
name), and the model card lists the classes.

The training front-end runs inside every model. A student trained under mixed precision is
rebuilt in float32. Parity with the Keras model is measured on random and speech-like inputs
and the export fails (after writing the files) if a float32 model deviates by more than 1e-4.

Examples:

    python -m kerasemo.experiments.export
    python -m kerasemo.experiments.export --head runs/heads/rml --out saved_models/rml
    python -m kerasemo.experiments.export --student runs/paper/student.keras \
        --out saved_models/paper --variants float32,int8
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasemo import demo  # noqa: E402
from kerasemo import arguments  # noqa: E402
from kerasemo.arguments import positive_int  # noqa: E402

DEFAULT_STUDENT = demo.DEFAULT_STUDENT
"""Where the main job (`python -m kerasemo.experiments.distill`) writes its student."""
DEFAULT_OUT = pathlib.Path("saved_models") / "kerasemo"
VARIANTS = ("float32", "float16", "int8")


def _variants(text: str) -> list[str]:
    if text.strip().lower() == "none":
        return []
    chosen = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown TFLite variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)} "
            "or 'none'"
        )
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.export", __doc__)
    parser.add_argument(
        "--student",
        type=pathlib.Path,
        default=DEFAULT_STUDENT,
        help=f"the distill stage's student.keras (default: {DEFAULT_STUDENT}, the main job's)",
    )
    parser.add_argument(
        "--head",
        type=pathlib.Path,
        help="a probe head folder (written by `python -m kerasemo.experiments.probe --save-head "
        "DIR`) to build in: adds the outputs head_probabilities and label",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=DEFAULT_OUT,
        help=f"export folder (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--variants",
        type=_variants,
        default=list(VARIANTS),
        help="comma-separated TFLite variants: float32, float16, int8 (dynamic range), or 'none' "
        "(default: all three)",
    )
    parser.add_argument(
        "--no-saved-model", action="store_true", help="write the TFLite models only"
    )
    parser.add_argument(
        "--version",
        type=positive_int,
        default=1,
        help="SavedModel version folder inside --out, as TF Serving expects (default: 1)",
    )
    parser.add_argument(
        "--holdout",
        type=positive_int,
        default=16,
        help="speech-like windows for the TFLite parity figures (default: 16)",
    )
    parser.add_argument(
        "--run-dir",
        type=pathlib.Path,
        help="distill run folder to read config.toml (training settings, crop length) and "
        "auc.json from (default: the student's folder)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="LiteRT threads for the parity runs (default: all cores)",
    )
    parser.add_argument(
        "--no-describe",
        action="store_true",
        help="skip saved_model_cli.txt (the `saved_model_cli show --all` text)",
    )
    parser.add_argument(
        "--onnx",
        action="store_true",
        help="also write kerasemo.onnx (the waveform model for ONNX Runtime, any length, "
        "without a head; needs `pip install 'kerasemo[onnx]'`)",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="keep going when float32 parity exceeds 1e-4 (the figures are still reported)",
    )
    arguments.add_verbosity_arguments(parser)
    return parser


def _head_line(head: dict) -> str:
    fitted = "yes" if head["matches_student"] else "NO (fitted on another student)"
    return (
        f"head: {len(head['classes'])} classes of {head['dataset'] or 'its set'} "
        f"({', '.join(head['classes'])}); fitted on this student: {fitted}"
    )


def _summary(report) -> str:
    window = report.card["input"]
    lines = [
        f"exported to {report.out_dir}",
        f"window: {window['window_samples']} samples ({window['window_seconds']:.3f} s, "
        f"{window['window_frames']} frames; from the {window['window_source']})",
        "",
    ]
    lines.append(f"{'file':<28} {'size':>10}  parity vs Keras")
    for key, path in report.files.items():
        size = report.sizes.get(key, 0)
        figures = report.parity.get(key)
        if figures is not None:
            figures = figures.get("overall", figures)
            parity = (
                f"max |dp| {figures['max_abs_probability']:.2e}, max |dlogit|/scale "
                f"{figures['max_rel_logit']:.2e}, argmax agreement "
                f"{figures['argmax_agreement']:.3f}"
            )
        else:
            parity = ""
        name = os.path.relpath(path, report.out_dir)
        lines.append(f"{name:<28} {size / 2**20:>7.2f} MiB  {parity}")
    if "head" in report.card:
        lines += ["", _head_line(report.card["head"])]
    if report.converted_to_float32:
        lines += ["", "the student was mixed precision: exported as float32 (weights copied)"]
    return "\n".join(lines)


def _check_student_exists(student: pathlib.Path) -> None:
    if not student.is_file():
        raise SystemExit(
            f"error: {student} not found; the main job (`python -m kerasemo.experiments.distill`) "
            f"writes it at {DEFAULT_STUDENT} (a distill run with --out DIR writes "
            "DIR/student.keras); pass it with --student."
        )


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse(build_parser(), argv)
    if args.no_saved_model and not args.variants:
        raise SystemExit("error: nothing to export: --no-saved-model with --variants none.")
    _check_student_exists(args.student)

    from kerasemo.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from kerasemo import export

    try:
        report = export.export_student(
            args.student,
            args.out,
            variants=args.variants,
            saved_model=not args.no_saved_model,
            version=args.version,
            holdout_clips=args.holdout,
            run_dir=args.run_dir,
            describe=not args.no_describe,
            check=not args.no_check,
            num_threads=args.threads,
            head=args.head,
            onnx=args.onnx,
        )
    except (FileNotFoundError, ValueError, export.ExportError) as err:
        raise SystemExit(f"error: {err}") from None
    print(_summary(report))
    failed = report.failures()
    if failed:
        print(f"warning: parity above {export.PARITY_TOLERANCE} for {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
