"""Inspect the speech front-end and the student on an audio file (or a generated one).

A first look at what the student hears: it decodes audio from
any container, computes the VGGVox spectrogram with the graph front-end, checks it against the
NumPy reference, draws it, builds the student of the chosen preset, checks every layer's output
shape against the paper's Table 4 for a 4-second crop, and runs the (untrained) student over the
whole clip. It trains nothing; the emotion scores it prints come from random weights.

The default preset follows what is asked: ``demo`` for the generated clip, ``paper`` for an
audio file of yours; ``--config`` always wins.

Examples:

    python -m kerasemo.experiments.inspect                     # a generated speech-like clip
    python -m kerasemo.experiments.inspect interview.m4a --out runs/inspect   # the paper's student
    python -m kerasemo.experiments.inspect interview.m4a --config demo        # the demo's student
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

from kerasemo import config as config_lib  # noqa: E402
from kerasemo import quiet  # noqa: E402
from kerasemo import arguments  # noqa: E402

logger = logging.getLogger(__name__)

# Paper Table 4: output (frequency x time) of each layer for a 512 x 400 input.
TABLE4_SHAPES = {
    "conv1": (254, 198),
    "mpool1": (126, 99),
    "conv2": (62, 49),
    "mpool2": (30, 24),
    "conv3": (30, 24),
    "conv4": (30, 24),
    "conv5": (30, 24),
    "mpool5": (9, 11),
    "fc6": (1, 11),
    "apool6": (1, 1),
    "fc7": (1, 1),
    "fc8": (1, 1),
}


def build_parser() -> argparse.ArgumentParser:
    parser = arguments.docstring_parser("kerasemo.experiments.inspect", __doc__)
    arguments.add_data_arguments(
        parser,
        "audio",
        nargs="?",
        help="audio or video file (wav, flac, m4a, mp4, avi, ...); default: a generated 6 s "
        "speech-like clip",
    )
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("runs") / "inspect",
        help="directory for the spectrogram PNG and the JSON summary",
    )
    arguments.add_verbosity_arguments(parser)
    return parser


def _plot_spectrogram(spectrogram, path: pathlib.Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    bins, frames = spectrogram.shape
    figure, axis = plt.subplots(figsize=(10, 4))
    image = axis.imshow(
        spectrogram[: bins // 2 + 1] if bins == 512 else spectrogram,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, frames * 0.01, 0, 8000),
        vmin=np.percentile(spectrogram, 1),
        vmax=np.percentile(spectrogram, 99),
    )
    axis.set_xlabel("time (s)")
    axis.set_ylabel("frequency (Hz)")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, label="normalised magnitude")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    args, experiment = arguments.start(build_parser(), argv)
    quiet.import_tensorflow_quietly()
    import keras
    import numpy as np

    from kerasemo import emotions
    from kerasemo.audio import (
        AudioDecodeError,
        VGGVoxSpectrogram,
        load_audio,
        vggvox_spectrogram_reference,
    )
    from kerasemo.audio.signals import speech_like_signal
    from kerasemo.models import VGGMStudent

    print("kerasemo inspect: front-end and student only (no training happens here).")
    if args.audio is None:
        source = "generated speech-like clip (6 s, seed 0)"
        waveform = speech_like_signal(6.0, seed=experiment.seed)
    else:
        source = str(args.audio)
        with arguments.one_line_errors(AudioDecodeError):
            waveform = load_audio(args.audio, experiment.frontend.sample_rate)
    seconds = len(waveform) / experiment.frontend.sample_rate
    print(f"audio: {source}: {len(waveform)} samples, {seconds:.2f} s at 16 kHz")

    frontend = VGGVoxSpectrogram(mirror=experiment.frontend.mirror)
    spectrogram = keras.ops.convert_to_numpy(frontend(waveform[None, :]))[0]
    reference = vggvox_spectrogram_reference(waveform, mirror=experiment.frontend.mirror)
    deviation = float(np.max(np.abs(spectrogram - reference)))
    print(
        f"spectrogram: {spectrogram.shape[0]} bins x {spectrogram.shape[1]} frames; "
        f"max |graph - NumPy reference| = {deviation:.2e} (normalised units)"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "spectrogram.png"
    _plot_spectrogram(spectrogram, png, f"VGGVox spectrogram: {source}")
    print(f"wrote {png}")

    student_config = experiment.student
    crop = VGGMStudent(
        input_bins=experiment.frontend.num_bins,
        conv_filters=student_config.conv_filters,
        fc6_units=student_config.fc6_units,
        fc7_units=student_config.fc7_units,
        input_frames=experiment.frontend.crop_frames,
    )
    print(
        f"\nstudent ({experiment.name} preset): {crop.count_params():,} parameters; "
        f"layer outputs for a 4 s crop ({experiment.frontend.num_bins} x "
        f"{experiment.frontend.crop_frames}):"
    )
    rows, all_match = [], True
    for name, expected in TABLE4_SHAPES.items():
        shape = tuple(crop.get_layer(name).output.shape[1:3])
        matches = shape == expected if experiment.frontend.num_bins == 512 else None
        all_match = all_match and matches is not False
        rows.append({"layer": name, "shape": list(shape), "table4": list(expected)})
        mark = {True: "= Table 4", False: "!= Table 4", None: "(257-bin input)"}[matches]
        print(f"  {name:7s} {shape[0]:4d} x {shape[1]:<4d} {mark}")

    # The same weights run on the whole clip: apool6 averages over any length.
    student = VGGMStudent.from_config({**crop.get_config(), "input_frames": None})
    student.set_weights(crop.get_weights())
    logits = keras.ops.convert_to_numpy(student(spectrogram[None, ...], training=False))[0]
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    print("\nuntrained student on the whole clip (random weights; not a prediction):")
    for name, p in zip(emotions.CLASSES, probabilities, strict=True):
        print(f"  {name:9s} {p:.3f}")

    summary = {
        "audio": source,
        "seconds": seconds,
        "spectrogram_shape": list(spectrogram.shape),
        "max_deviation_from_reference": deviation,
        "preset": experiment.name,
        "student_parameters": crop.count_params(),
        "layers": rows,
        "table4_shapes_match": all_match,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    config_lib.save_config(experiment, args.out)
    print(f"wrote {args.out / 'summary.json'} and {args.out / 'config.toml'}")
    print(
        "\nTo train a student: python -m kerasemo.experiments.distill (the whole method on the "
        "embedded synthetic corpus)."
    )
    return 0 if all_match else 1


if __name__ == "__main__":
    sys.exit(main())
