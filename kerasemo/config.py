"""Typed experiment configuration, named presets stored as TOML, and ``--set`` overrides.

An experiment is one `ExperimentConfig`: a tree of frozen dataclasses, one per concern (front-end,
student, teacher, frames-to-tracks, distillation, splits, evaluation). Named presets are TOML
files shipped inside the package, in ``kerasemo/presets/`` (``paper.toml``: every setting of the
paper and the authors' code; ``demo.toml``: small enough for a 2-core CPU). Every entry point
loads one with ``--config NAME_OR_PATH`` and adjusts it with ``--set section.key=value``; the
resolved configuration is written beside the results (`save_config`).

A TOML file only needs the keys it changes: anything absent takes the dataclass default, and the
defaults are the paper's settings. Unknown keys and wrongly typed values are errors that name the
key, so a typo never silently falls back to a default.

Example:

>>> from kerasemo.config import load_config, apply_overrides
>>> config = load_config("demo")
>>> config = apply_overrides(config, ["distill.epochs=3", "distill.loss=l2_logits"])
>>> config.distill.epochs
3
"""

# Over 600 lines on purpose: the whole settings tree with its TOML and --set handling.

from __future__ import annotations

import argparse
import dataclasses
import importlib.resources
import math
import os
import pathlib
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from importlib.resources.abc import Traversable

from kerasemo import emotions, vggm
from kerasemo.data import frames as frames_lib

# Named presets are package data (`kerasemo/presets/*.toml`), read through importlib.resources so
# that they are found from an installed wheel as well as from a checkout.
PRESET_DIR = importlib.resources.files("kerasemo").joinpath("presets")


class ConfigError(ValueError):
    """A configuration value, key, file or override is invalid."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_choice(section: str, key: str, value, choices: Iterable) -> None:
    choices = tuple(choices)
    _check(
        value in choices,
        f"{section}.{key} must be one of {', '.join(map(repr, choices))}; received {value!r}.",
    )


def _check_positive(section: str, key: str, value) -> None:
    _check(value > 0, f"{section}.{key} must be > 0; received {value!r}.")


@dataclasses.dataclass(frozen=True)
class FrontEndConfig:
    """The VGGVox spectrogram front-end (the authors' VGGVox recipe; `kerasemo.audio.reference`).

    The recipe itself (int16 scaling, DC removal 0.99, pre-emphasis 0.97, 400/160 framing,
    symmetric Hamming, 512-point FFT, linear magnitude) is fixed in `kerasemo.audio`; these are
    the settings a user may change.

    Args:
        sample_rate: audio is decoded and resampled to this rate (Hz). The recipe is defined
            for 16 kHz only.
        mirror: True for all 512 mirrored FFT bins (the paper), False for the 257 rfft bins.
        crop_frames: spectrogram frames in a training crop; 400 frames = 4 s = 64,384 samples
            (`kerasemo.audio.reference.crop_samples_for_frames`).

    The authors' code also adds a triangular dither of 1e-6 x the clip's standard deviation.
    kerasemo does not: for speech at ordinary levels that is tens to hundreds of times below the
    int16 quantisation noise already in the signal (`kerasemo.audio.reference` keeps it for
    checks against their code).
    """

    sample_rate: int = 16000
    mirror: bool = True
    crop_frames: int = 400

    def __post_init__(self):
        _check(
            self.sample_rate == 16000,
            f"frontend.sample_rate must be 16000 (the VGGVox recipe's rate); received "
            f"{self.sample_rate!r}. Audio at other rates is resampled on load.",
        )
        _check(
            self.crop_frames >= vggm.MIN_INPUT_FRAMES,
            f"frontend.crop_frames must be >= {vggm.MIN_INPUT_FRAMES} (the student's minimum "
            f"input length, `kerasemo.vggm.MIN_INPUT_FRAMES`); received {self.crop_frames!r}.",
        )

    @property
    def num_bins(self) -> int:
        """Frequency bins the student receives: 512 mirrored or 257 rfft bins."""
        return 512 if self.mirror else 257


@dataclasses.dataclass(frozen=True)
class StudentConfig:
    """The VGG-M speech student (paper Table 4).

    Args:
        conv_filters: filters of conv1..conv5 (paper table: 96, 256, 256, 256, 256; the
            authors' VGGVox code uses 384 for conv3).
        fc6_units: width of fc6 (4096 in the paper).
        fc7_units: width of fc7 (1024 in the paper).
        log_magnitude: log-compress the magnitudes before the per-bin normalisation (beyond
            the paper, which feeds linear magnitudes; `kerasemo.audio.LogMagnitude`).
    """

    conv_filters: tuple[int, ...] = (96, 256, 256, 256, 256)
    fc6_units: int = 4096
    fc7_units: int = 1024
    log_magnitude: bool = False

    def __post_init__(self):
        _check(
            len(self.conv_filters) == 5 and all(f > 0 for f in self.conv_filters),
            f"student.conv_filters must be 5 positive integers (conv1..conv5); received "
            f"{self.conv_filters!r}.",
        )
        _check_positive("student", "fc6_units", self.fc6_units)
        _check_positive("student", "fc7_units", self.fc7_units)


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
    """The SE-ResNet-50 face teacher and its FERPlus training (paper section 3.1).

    Args:
        blocks_per_stage: bottleneck blocks in each of the four stages (3, 4, 6, 3 = ResNet-50).
        base_width: channels of the first stage's bottleneck (64 in ResNet-50).
        se_reduction: squeeze-and-excitation reduction ratio.
        input_size: side of the square RGB face crop.
        mean_rgb: per-channel mean subtracted from the 0-255 input (the authors' values).
        dropout: dropout before the classifier.
        label_mode: FERPlus target: "distribution" (vote distribution), "majority" or
            "probability" (one-hot sampled from the votes).
        batch_size: images per step.
        learning_rates: one learning rate per stage of the schedule.
        epochs_per_rate: epochs spent at each learning rate.
        momentum: SGD momentum.
        weight_decay: L2 weight decay.
        flip_probability: probability of a horizontal flip.
        zoom: maximum relative zoom of the affine augmentation.
        rotation_degrees: rotation magnitude; one of {-r, 0, +r} is drawn.
        skew: shear magnitude; one of {-s, 0, +s} is drawn.
        augment_fraction: fraction of samples each affine augmentation applies to.
        weights_path: optional pretrained weights (`.keras` or `.weights.h5`); empty = scratch.
    """

    blocks_per_stage: tuple[int, ...] = (3, 4, 6, 3)
    base_width: int = 64
    se_reduction: int = 16
    input_size: int = 224
    mean_rgb: tuple[float, ...] = (131.0912, 103.8827, 91.4953)
    dropout: float = 0.5
    label_mode: str = "distribution"
    batch_size: int = 128
    learning_rates: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
    epochs_per_rate: int = 60
    momentum: float = 0.9
    weight_decay: float = 5e-4
    flip_probability: float = 0.5
    zoom: float = 1 / 25
    rotation_degrees: float = 10.0
    skew: float = 0.1
    augment_fraction: float = 0.5
    weights_path: str = ""

    def __post_init__(self):
        _check(
            len(self.blocks_per_stage) == 4 and all(b > 0 for b in self.blocks_per_stage),
            f"teacher.blocks_per_stage must be 4 positive integers; received "
            f"{self.blocks_per_stage!r}.",
        )
        for key in ("base_width", "se_reduction", "input_size", "batch_size", "epochs_per_rate"):
            _check_positive("teacher", key, getattr(self, key))
        _check(
            len(self.mean_rgb) == 3,
            f"teacher.mean_rgb must have 3 values (R, G, B); received {self.mean_rgb!r}.",
        )
        _check(
            0 <= self.dropout < 1, f"teacher.dropout must be in [0, 1); received {self.dropout!r}."
        )
        _check_choice(
            "teacher", "label_mode", self.label_mode, ("distribution", "majority", "probability")
        )
        _check(
            len(self.learning_rates) > 0 and all(lr > 0 for lr in self.learning_rates),
            f"teacher.learning_rates must be positive; received {self.learning_rates!r}.",
        )
        for key in ("flip_probability", "augment_fraction"):
            value = getattr(self, key)
            _check(0 <= value <= 1, f"teacher.{key} must be in [0, 1]; received {value!r}.")


@dataclasses.dataclass(frozen=True)
class FramesConfig:
    """Frames to tracks (paper section 4): which video frames the teacher labels, and pooling.

    Args:
        video_fps: frame rate of the talking-face video (VoxCeleb: 25).
        frame_stride: one frame in every `frame_stride` is labelled (6 -> every 0.24 s).
        pooling: how a segment's frame logits become its target: "max" (paper) or "mean".
    """

    video_fps: float = frames_lib.VIDEO_FPS
    frame_stride: int = frames_lib.FRAME_STRIDE
    pooling: str = "max"

    def __post_init__(self):
        _check_positive("frames", "video_fps", self.video_fps)
        _check_positive("frames", "frame_stride", self.frame_stride)
        _check_choice("frames", "pooling", self.pooling, ("max", "mean"))


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """Cross-modal distillation of the student (paper section 3).

    Args:
        temperature: softmax temperature of both teacher and student.
        loss: "authors" (softened cross-entropy, no T^2 factor), "hinton_t2" (the same
            multiplied by T^2) or "l2_logits" (regress the teacher's logits).
        batch_size: crops per step.
        epochs: passes over the training tracks (one random crop per track per epoch).
        learning_rate_start: initial learning rate.
        learning_rate_end: final learning rate; log-spaced decay in between.
        momentum: SGD momentum.
        weight_decay: L2 weight decay coefficient.
        precision: "auto" (mixed on a GPU, float32 on CPU), "float32", "mixed_float16" or
            "mixed_bfloat16".
        select_on: validation split whose distillation loss picks the kept model.
        shuffle_buffer: serialized tracks held for shuffling; bounds the pipeline's memory
            (about 0.4 MB per 8 s track with spectrogram storage).
        deterministic: reproducible runs: the input pipeline yields its examples in a fixed
            order and TensorFlow's op determinism is switched on
            (`kerasemo.training.enable_determinism`). On x86 CPUs oneDNN's multi-threaded
            kernels still vary in the last bits at the demo student's sizes; with the
            environment variable ``TF_ENABLE_ONEDNN_OPTS=0`` as well, the same command gives
            the same student bit for bit (measured 1.6x slower on 2 cores).
        frequency_warp: w in [0, 1): each training crop is stretched along frequency by a
            random factor in [1 / (1 + w), 1 + w] (vocal-tract-length perturbation; beyond the
            paper, which does not augment). 0 turns it off.
    """

    temperature: float = 2.0
    loss: str = "authors"
    batch_size: int = 64
    epochs: int = 50
    learning_rate_start: float = 1e-4
    learning_rate_end: float = 1e-5
    momentum: float = 0.9
    weight_decay: float = 5e-4
    precision: str = "auto"
    select_on: str = "unheard_val"
    shuffle_buffer: int = 256
    deterministic: bool = False
    frequency_warp: float = 0.0

    def __post_init__(self):
        for key in ("temperature", "batch_size", "epochs", "shuffle_buffer"):
            _check_positive("distill", key, getattr(self, key))
        _check_choice("distill", "loss", self.loss, ("authors", "hinton_t2", "l2_logits"))
        _check(
            0 < self.learning_rate_end <= self.learning_rate_start,
            f"distill learning rates must satisfy 0 < learning_rate_end <= learning_rate_start; "
            f"received start={self.learning_rate_start!r}, end={self.learning_rate_end!r}.",
        )
        _check(
            0 <= self.momentum < 1, f"distill.momentum must be in [0, 1); received {self.momentum!r}."
        )
        _check(
            self.weight_decay >= 0,
            f"distill.weight_decay must be >= 0; received {self.weight_decay!r}.",
        )
        _check_choice(
            "distill",
            "precision",
            self.precision,
            ("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        )
        _check_choice("distill", "select_on", self.select_on, ("unheard_val", "heard_val"))
        _check(
            0.0 <= self.frequency_warp < 1.0,
            f"distill.frequency_warp must be in [0, 1); received {self.frequency_warp!r}.",
        )


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Identity-disjoint splits of the talking-face tracks (paper section 4).

    The paper's EmoVoxCeleb has 118.5k train, 4.5k heard-val and 30.5k unheard-val tracks: about
    20 % of the tracks belong to unheard identities, and 3.7 % of the remaining tracks are held
    out as heard-val.

    Args:
        unheard_identity_fraction: fraction of identities held out entirely (unheard_val).
        heard_val_fraction: fraction of the remaining identities' tracks held out (heard_val).
    """

    unheard_identity_fraction: float = 0.2
    heard_val_fraction: float = 0.037

    def __post_init__(self):
        for key in ("unheard_identity_fraction", "heard_val_fraction"):
            value = getattr(self, key)
            _check(0 < value < 1, f"splits.{key} must be in (0, 1); received {value!r}.")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """How the student is evaluated (paper section 5).

    Args:
        auc_excluded: classes left out of the mean ROC AUC against the teacher.
        probe_folds: cross-validation folds of the linear probe.
        probe_seed: seed of the random fold assignment (the authors use 0).
        probe_protocol: "random10" (the authors' folds over clips) or "speaker"
            (speaker-independent grouped folds).
    """

    auc_excluded: tuple[str, ...] = emotions.AUC_EXCLUDED_CLASSES
    probe_folds: int = 10
    probe_seed: int = 0
    probe_protocol: str = "random10"

    def __post_init__(self):
        for name in self.auc_excluded:
            _check(
                name in emotions.CLASSES,
                f"evaluation.auc_excluded contains {name!r}, which is not one of "
                f"{emotions.CLASSES}.",
            )
        _check(
            self.probe_folds >= 2,
            f"evaluation.probe_folds must be >= 2; received {self.probe_folds!r}.",
        )
        _check_choice(
            "evaluation", "probe_protocol", self.probe_protocol, ("random10", "speaker")
        )


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Every setting of one experiment. Defaults are the paper's settings.

    Args:
        name: the preset's name (also names run directories).
        description: one line on what the preset is for.
        seed: global seed (crops, splits, dither, initialisation).
        frontend, student, teacher, frames, distill, splits, evaluation: the sections.

    Example:

    >>> ExperimentConfig().distill.temperature
    2.0
    """

    name: str = "paper"
    description: str = ""
    seed: int = 0
    frontend: FrontEndConfig = dataclasses.field(default_factory=FrontEndConfig)
    student: StudentConfig = dataclasses.field(default_factory=StudentConfig)
    teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig)
    frames: FramesConfig = dataclasses.field(default_factory=FramesConfig)
    distill: DistillConfig = dataclasses.field(default_factory=DistillConfig)
    splits: SplitConfig = dataclasses.field(default_factory=SplitConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)

    def __post_init__(self):
        _check(bool(self.name), "name must be a non-empty string.")

    def to_dict(self) -> dict:
        """The configuration as nested plain dicts (tuples become lists), ready for TOML/JSON."""
        return _to_plain(self)


# ---------------------------------------------------------------------------------------------
# Building configs from mappings, with type checking.


def _to_plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


def _coerce(value, annotation, where: str):
    """Checks/converts one TOML value to a field's annotated type."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(annotation)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list; received {value!r}.")
        return tuple(_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{where}: union-typed fields are not supported.")  # pragma: no cover
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false; received {value!r}.")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer; received {value!r}.")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number; received {value!r}.")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be finite; received {value!r}.")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string; received {value!r}.")
        return value
    raise ConfigError(f"{where}: unsupported field type {annotation!r}.")  # pragma: no cover


def _from_mapping(cls, data: Mapping, where: str):
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'config'} must be a table; received {data!r}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {', '.join(f'{where}.{k}'.lstrip('.') for k in unknown)}. "
            f"Known keys{' of ' + where if where else ''}: {', '.join(fields)}."
        )
    kwargs = {}
    for key, value in data.items():
        annotation = hints[key]
        path = f"{where}.{key}".lstrip(".")
        if dataclasses.is_dataclass(annotation):
            kwargs[key] = _from_mapping(annotation, value, path)
        else:
            kwargs[key] = _coerce(value, annotation, path)
    return cls(**kwargs)


def config_from_dict(data: Mapping) -> ExperimentConfig:
    """Builds and validates an `ExperimentConfig` from nested mappings (missing keys = defaults).

    Raises:
        ConfigError: for unknown keys, wrongly typed or invalid values (the message names the key).
    """
    return _from_mapping(ExperimentConfig, data, "")


# ---------------------------------------------------------------------------------------------
# Presets and files.


def available_presets() -> list[str]:
    """Names of the presets shipped with the package (``kerasemo/presets/*.toml``).

    Returns:
        The preset names, sorted; each one is accepted by `load_config`.

    Example:

    >>> {"demo", "paper"} <= set(available_presets())
    True
    """
    if not PRESET_DIR.is_dir():
        return []
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in PRESET_DIR.iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    )


def _resolve(name_or_path: str | os.PathLike) -> pathlib.Path | Traversable:
    """The file to read: a path to a ``.toml`` file, or the shipped preset of that name."""
    candidate = pathlib.Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise ConfigError(f"Config file {str(candidate)!r} does not exist.")
        return candidate
    preset = PRESET_DIR.joinpath(f"{name_or_path}.toml")
    if not preset.is_file():
        raise ConfigError(
            f"Unknown preset {str(name_or_path)!r}. Available presets: "
            f"{', '.join(available_presets()) or '(none found)'}; or pass a path to a .toml file."
        )
    return preset


def load_config(name_or_path: str | os.PathLike = "paper") -> ExperimentConfig:
    """Loads a named preset (``paper``, ``demo``, ...) or a TOML file and validates it.

    Args:
        name_or_path: a preset name (see `available_presets`) or a path to a ``.toml`` file.

    Returns:
        The validated `ExperimentConfig`.

    Raises:
        ConfigError: if the preset/file does not exist, is not valid TOML, or holds invalid keys
            or values (the message names the file and key).

    Example:

    >>> load_config("paper").distill.batch_size
    64
    """
    path = _resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path.name} is not valid TOML: {err}.") from err
    try:
        return config_from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{path.name}: {err}") from err


def _parse_override_value(text: str):
    """Parses the right-hand side of ``key=value`` as a TOML value, else as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(config: ExperimentConfig, overrides: Iterable[str]) -> ExperimentConfig:
    """Applies ``section.key=value`` overrides (values in TOML syntax) and re-validates.

    Args:
        config: the configuration to start from.
        overrides: strings such as ``"distill.epochs=3"``, ``"student.conv_filters=[8,16,16,16,16]"``,
            ``"frames.pooling=mean"`` (bare words are read as strings).

    Returns:
        A new validated `ExperimentConfig`.

    Raises:
        ConfigError: for a malformed override, an unknown key or an invalid value.

    Example:

    >>> apply_overrides(ExperimentConfig(), ["seed=3"]).seed
    3
    """
    data = config.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"Override {item!r} is not of the form section.key=value (e.g. distill.epochs=3)."
            )
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise ConfigError(
                    f"Override {item!r}: {part!r} is not a section. Sections: "
                    f"{', '.join(k for k, v in data.items() if isinstance(v, dict))}."
                )
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(
                f"Override {item!r}: unknown key {key.strip()!r}. Known keys here: "
                f"{', '.join(node)}."
            )
        node[parts[-1]] = _parse_override_value(text.strip())
    return config_from_dict(data)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"Cannot write {value!r} as TOML.")  # pragma: no cover


def to_toml(config: ExperimentConfig) -> str:
    """Serialises a configuration to TOML text that `load_config` reads back identically."""
    data = config.to_dict()
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, values in data.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def save_config(config: ExperimentConfig, directory: str | os.PathLike) -> pathlib.Path:
    """Writes the resolved configuration as ``config.toml`` in `directory` and returns its path."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(to_toml(config), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Command-line integration shared by every entry point.


PAPER_PRESET = "paper"
"""The preset of a command pointed at real data: every setting of the paper."""
DEMO_PRESET = "demo"
"""The preset of the embedded demo job: the synthetic corpus, sized for a 2-core CPU."""


@dataclasses.dataclass(frozen=True)
class DefaultPreset:
    """The preset an entry point loads when ``--config`` is not given.

    A command pointed at real data gets the paper's settings; one that runs on the embedded
    synthetic data (its data argument left out) gets the demo preset. An explicit ``--config``
    always wins (`chosen_preset`).

    Args:
        preset: the default when the data argument is given (or for an entry point that always
            reads real data).
        demo_without: the data argument as written on the command line (``"--data"``, or a
            positional's name such as ``"audio"``); while it is absent the default is
            `DEMO_PRESET`. None: always `preset`.

    Example:

    >>> import argparse
    >>> rule = DefaultPreset(demo_without="--data")
    >>> rule.resolve(argparse.Namespace(data=None)), rule.resolve(argparse.Namespace(data="x"))
    ('demo', 'paper')
    >>> rule.describe()
    'demo without --data, paper with it'
    """

    preset: str = PAPER_PRESET
    demo_without: str | None = None

    def resolve(self, args: argparse.Namespace) -> str:
        """The preset for parsed `args` (``--config`` aside)."""
        if self.demo_without is None:
            return self.preset
        dest = self.demo_without.lstrip("-").replace("-", "_")
        return DEMO_PRESET if getattr(args, dest) is None else self.preset

    def describe(self) -> str:
        """The rule in words, for ``--help``."""
        if self.demo_without is None:
            return self.preset
        return f"{DEMO_PRESET} without {self.demo_without}, {self.preset} with it"


def add_config_arguments(
    parser: argparse.ArgumentParser, default: str = PAPER_PRESET, *, demo_without: str | None = None
) -> None:
    """Adds ``--config`` and ``--set`` to an entry point's argument parser.

    Args:
        parser: the entry point's parser.
        default: the preset when ``--config`` is not given (`DefaultPreset.preset`).
        demo_without: the entry point's data argument (`DefaultPreset.demo_without`): without
            it the default is the demo preset.

    Example:

    >>> parser = argparse.ArgumentParser()
    >>> parser.add_argument("--data")  # doctest: +ELLIPSIS
    _StoreAction(...)
    >>> add_config_arguments(parser, demo_without="--data")
    >>> chosen_preset(parser.parse_args([])), chosen_preset(parser.parse_args(["--data", "d"]))
    ('demo', 'paper')
    >>> chosen_preset(parser.parse_args(["--data", "d", "--config", "demo"]))
    'demo'
    """
    rule = DefaultPreset(default, demo_without)
    parser.set_defaults(default_preset=rule)
    parser.add_argument(
        "--config",
        metavar="NAME_OR_PATH",
        help=f"preset name ({', '.join(available_presets())}) or path to a TOML file "
        f"(default: {rule.describe()})",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting, value in TOML syntax; repeatable "
        "(e.g. --set distill.epochs=3 --set frames.pooling=mean)",
    )


def chosen_preset(args: argparse.Namespace) -> str | os.PathLike:
    """``--config`` when given, else the entry point's default for what was asked (`DefaultPreset`)."""
    if args.config is not None:
        return args.config
    return args.default_preset.resolve(args)


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """Loads `chosen_preset` and applies ``args.overrides`` (see `add_config_arguments`)."""
    return apply_overrides(load_config(chosen_preset(args)), args.overrides)
