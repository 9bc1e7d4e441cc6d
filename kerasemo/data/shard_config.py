"""The settings a shard folder was built with, checked against the configuration that reads it.

An EmoVoxCeleb build records what it was built with: ``plan.json`` (frame timing, the seed and
split fractions, where the splits came from, the schema version, the preset's name and, for
stored spectrograms, the front-end recipe), ``config.toml`` (the whole configuration, with the
preset's name) and every record (sample rate, stored frequency bins, the times of the labelled
frames). `check_shard_config` compares them with the configuration a stage is about to train
with, before any epoch:

- what must agree raises `ShardConfigMismatchError`, naming each key with the shards' value,
  the configuration's value and the fix: the frame timing (``frames.video_fps``,
  ``frames.frame_stride``: the pipeline finds each crop's labelled frames with them; the
  records' frame spacing, ``frame_stride / video_fps`` s, says the same without ``plan.json``),
  ``frontend.sample_rate``, the record format this code reads (schema version, the recipe's
  257 stored bins), and the recipe the stored spectrograms were computed with (``recipe.*``:
  frame length and step, FFT length, int16 scaling, pre-emphasis, DC-removal pole), which must
  be the student's front end's (`kerasemo.audio.reference`), or the student would be trained
  on other spectrograms than its exported front end computes;
- what only describes how the shards were drawn is a logged warning: the preset's name, the
  seed and the split fractions (a stage reads the splits from the shards themselves).

A folder without a build's records (shards written by other tools) is checked on what its
records hold; a build from before ``plan.json`` kept the preset and the recipe, on what it did
record.

Example:

>>> from kerasemo.config import load_config
>>> recorded = [Recorded("frames.frame_stride", 6, "plan.json"), Recorded("name", "paper", "config.toml")]
>>> errors, warnings = compare(recorded, load_config("demo"))
>>> errors, [w.key for w in warnings]
([], ['name'])
>>> check_shard_config("tfrecords/demo", load_config("demo"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import pathlib
from collections.abc import Callable, Sequence

from kerasemo import config as config_lib
from kerasemo.data.emovoxceleb.files import PLAN_FILE
from kerasemo.data.emovoxceleb.plan import frontend_recipe

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.toml"
"""The build's resolved configuration (`kerasemo.config.save_config`)."""
FRAME_SPACING = "frames.frame_stride / frames.video_fps"
"""Key of the seconds between a record's labelled frames, which that ratio must give."""
SCHEMA_VERSION = "schema_version"
STORED_BINS = "stored frequency bins"
RECIPE = "recipe"
"""Prefix of the front-end recipe's keys (``recipe.frame_length``; `frontend_recipe` names them)."""
# Recipe entries that are checked under a key of their own (against the configuration, the schema).
_RECIPE_KEYS = {"sample_rate": "frontend.sample_rate", "stored_bins": STORED_BINS}
# The configuration keys a build records (plan.json's fingerprint and config.toml).
_RECORDED_KEYS = (
    "name",
    "seed",
    "frames.video_fps",
    "frames.frame_stride",
    "frontend.sample_rate",
    "splits.unheard_identity_fraction",
    "splits.heard_val_fraction",
)


class ShardConfigMismatchError(ValueError):
    """The shards were built with settings the configuration must share but does not."""


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One setting a shard folder recorded.

    Args:
        key: a configuration key (``"frames.frame_stride"``), a record-format field
            (`FRAME_SPACING`, `SCHEMA_VERSION`, `STORED_BINS`) or an entry of the front-end
            recipe (``"recipe.preemphasis"``).
        value: the recorded value.
        source: the file it was read from.
    """

    key: str
    value: object
    source: str


@dataclasses.dataclass(frozen=True)
class Difference:
    """A recorded setting that the configuration does not share.

    Args:
        key: the setting (`Recorded.key`).
        shards: the shards' value; source: where it was read.
        config: what the configuration (or this code) has instead.
        fix: what to do about it.
    """

    key: str
    shards: object
    source: str
    config: object
    fix: str

    def describe(self) -> str:
        """``key: <shards> in the shards (source), <config> in the configuration; fix``."""
        return (
            f"{self.key}: {self.shards!r} in the shards ({self.source}), {self.config!r} in the "
            f"configuration; {self.fix}"
        )


def _config_value(key: str) -> Callable[[config_lib.ExperimentConfig], object]:
    """A reader of `key` (``"frames.video_fps"``) from a configuration."""

    def value(experiment):
        node = experiment
        for part in key.split("."):
            node = getattr(node, part)
        return node

    return value


def _frame_spacing(experiment: config_lib.ExperimentConfig) -> float:
    return experiment.frames.frame_stride / experiment.frames.video_fps


def _recipe(name: str) -> Callable[[config_lib.ExperimentConfig], object]:
    """A reader of the front end's recipe entry `name` (None for one this code does not have)."""

    def value(_experiment):
        return frontend_recipe().get(name)

    return value


def _schema(name: str) -> Callable[[config_lib.ExperimentConfig], object]:
    """A reader of a `kerasemo.data.schema` constant: what this code reads (TensorFlow loads)."""

    def value(_experiment):
        from kerasemo.data import schema

        return getattr(schema, name)

    return value


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How a recorded setting is compared: whether it must agree, with what, and the fix."""

    must_agree: bool
    expected: Callable[[config_lib.ExperimentConfig], object] | None
    fix: str  # a template with {key} and {value} (the shards' value)


_SET = _Rule(
    True,
    None,
    "pass --set {key}={value!r} (apply_overrides) to read the shards as they were built, or rebuild "
    "them with this configuration into a new folder (build_emovoxceleb --out NEW)",
)
_REBUILD = "rebuild the shards with this version of kerasemo (build_emovoxceleb --out NEW)"
_NOTED = _Rule(
    False,
    None,
    "the shards' own splits are used; pass the build's --config (or --set {key}={value!r}) to "
    "match and silence this warning",
)
_RULES = {
    "frames.video_fps": _SET,
    "frames.frame_stride": _SET,
    "frontend.sample_rate": _Rule(True, None, "the front end reads 16 kHz audio; " + _REBUILD),
    FRAME_SPACING: _Rule(
        True,
        _frame_spacing,
        "the records' labelled frames are {value} s apart: set frames.frame_stride and "
        "frames.video_fps (--set) to the build's, or rebuild the shards with this configuration",
    ),
    SCHEMA_VERSION: _Rule(True, _schema("SCHEMA_VERSION"), _REBUILD),
    STORED_BINS: _Rule(True, _schema("NUM_STORED_BINS"), _REBUILD),
    "name": _NOTED,
    "seed": _NOTED,
    "splits.unheard_identity_fraction": _NOTED,
    "splits.heard_val_fraction": _NOTED,
}
"""How each recorded key is compared; ``expected`` None: the configuration's value of the key."""
_RECIPE_FIX = (
    "the stored spectrograms were computed with another front-end recipe than the student's "
    "(kerasemo.audio.reference); " + _REBUILD
)


def _rule(key: str) -> _Rule:
    """How `key` is compared: `_RULES`, or against the front end's recipe for ``recipe.*``."""
    if key.startswith(f"{RECIPE}."):
        return _Rule(True, _recipe(key.removeprefix(f"{RECIPE}.")), _RECIPE_FIX)
    return _RULES[key]


def _same(recorded, expected) -> bool:
    if isinstance(recorded, int | float) and isinstance(expected, int | float):
        return math.isclose(recorded, expected, rel_tol=1e-5)
    return recorded == expected


def _from_plan(path: pathlib.Path) -> list[Recorded]:
    """The settings in ``plan.json``.

    Its fingerprint's (splits and seed only for seeded splits), and from its ``info`` the preset's
    name and the front-end recipe where the build kept them (not before they were recorded, nor
    the recipe for a waveform build).
    """
    plan = json.loads(path.read_text(encoding="utf-8"))
    fingerprint, info = plan.get("fingerprint", {}), plan.get("info", {})
    recorded = [Recorded(f"frames.{k}", v, path.name) for k, v in fingerprint.get("frames", {}).items()]
    if SCHEMA_VERSION in fingerprint:
        recorded.append(Recorded(SCHEMA_VERSION, fingerprint[SCHEMA_VERSION], path.name))
    if fingerprint.get("split_source", "seeded") == "seeded":
        recorded += [Recorded(f"splits.{k}", v, path.name) for k, v in fingerprint.get("splits", {}).items()]
        if "seed" in fingerprint:
            recorded.append(Recorded("seed", fingerprint["seed"], path.name))
    if "preset" in info:
        recorded.append(Recorded("name", info["preset"], path.name))
    for name, value in info.get("frontend", {}).items():
        recorded.append(Recorded(_RECIPE_KEYS.get(name, f"{RECIPE}.{name}"), value, path.name))
    return recorded


def _from_config_file(path: pathlib.Path) -> list[Recorded]:
    """The recorded keys of the build's ``config.toml`` (none when this code cannot read it)."""
    try:
        built = config_lib.load_config(path)
    except config_lib.ConfigError as err:
        logger.warning("cannot read the build's %s (%s); checking the other records only", path, err)
        return []
    return [Recorded(key, _config_value(key)(built), path.name) for key in _RECORDED_KEYS]


def _from_first_record(data_dir: pathlib.Path) -> list[Recorded]:
    """Sample rate, schema version, stored bins and frame spacing of the first train record."""
    import numpy as np
    import tensorflow as tf

    from kerasemo.data import pipeline, schema

    path = pathlib.Path(pipeline.shard_files(data_dir, "train")[0])
    raw = next(iter(tf.data.TFRecordDataset(str(path)).take(1)), None)
    if raw is None:
        return []
    feature = tf.train.Example.FromString(raw.numpy()).features.feature

    def integer(key):
        return int(feature[key].int64_list.value[0])

    def data(key):
        return feature[key].bytes_list.value[0]

    recorded = [
        Recorded(SCHEMA_VERSION, integer(schema.KEY_SCHEMA_VERSION), path.name),
        Recorded("frontend.sample_rate", integer(schema.KEY_SAMPLE_RATE), path.name),
    ]
    frames = integer(schema.KEY_NUM_SPECTROGRAM_FRAMES)
    if data(schema.KEY_AUDIO_KIND) == b"spectrogram" and frames > 0:
        recorded.append(Recorded(STORED_BINS, len(data(schema.KEY_SPECTROGRAM)) // (2 * frames), path.name))
    times = np.frombuffer(data(schema.KEY_FRAME_TIMES), "<f4")
    if len(times) > 1:
        recorded.append(Recorded(FRAME_SPACING, round(float(times[1] - times[0]), 6), path.name))
    return recorded


def read_shard_settings(data: str | os.PathLike) -> list[Recorded]:
    """What a shard folder recorded about its build, one `Recorded` per key.

    A key is taken from the first of ``plan.json``, ``config.toml`` and the first train record
    that holds it.

    Args:
        data: the shard folder.

    Returns:
        The recorded settings (only the record's fields for a folder without a build's files).

    Raises:
        FileNotFoundError: when the folder holds no train shards.
    """
    data_dir = pathlib.Path(data)
    recorded: list[Recorded] = []
    if (data_dir / PLAN_FILE).is_file():
        recorded += _from_plan(data_dir / PLAN_FILE)
    if (data_dir / CONFIG_FILE).is_file():
        recorded += _from_config_file(data_dir / CONFIG_FILE)
    recorded += _from_first_record(data_dir)
    first: dict[str, Recorded] = {}
    for item in recorded:
        first.setdefault(item.key, item)
    return list(first.values())


def compare(
    recorded: Sequence[Recorded], experiment: config_lib.ExperimentConfig
) -> tuple[list[Difference], list[Difference]]:
    """The recorded settings that `experiment` does not share: ``(errors, warnings)``.

    Args:
        recorded: what the shards recorded (`read_shard_settings`).
        experiment: the configuration about to read them.

    Returns:
        The differences that must not be (frame timing, sample rate, record format, front-end
        recipe) and those that are only noted (preset name, seed, split fractions), in the order
        recorded.
    """
    errors, warnings = [], []
    for item in recorded:
        rule = _rule(item.key)
        value = (rule.expected or _config_value(item.key))(experiment)
        if not _same(item.value, value):
            fix = rule.fix.format(key=item.key, value=item.value)
            (errors if rule.must_agree else warnings).append(
                Difference(item.key, item.value, item.source, value, fix)
            )
    return errors, warnings


def check_shard_config(data: str | os.PathLike, experiment: config_lib.ExperimentConfig) -> list[Recorded]:
    """Stops before training on shards built with settings `experiment` must share.

    Args:
        data: the shard folder.
        experiment: the configuration about to read it.

    Returns:
        The recorded settings that were checked.

    Raises:
        ShardConfigMismatchError: (a ValueError) naming every setting that must agree and does
            not, with the shards' value, the configuration's and how to fix it.
        FileNotFoundError: when the folder holds no train shards.

    Example:

    >>> check_shard_config("tfrecords/demo", load_config("demo"))  # doctest: +SKIP
    """
    recorded = read_shard_settings(data)
    errors, warnings = compare(recorded, experiment)
    for difference in warnings:
        logger.warning("shards and configuration differ: %s", difference.describe())
    if errors:
        raise ShardConfigMismatchError(
            f"the shards in {data} were built with other settings than the configuration "
            f"({experiment.name!r}) reads them with:\n"
            + "\n".join(f"- {difference.describe()}" for difference in errors)
        )
    logger.debug("shard settings agree with the configuration: %s", ", ".join(r.key for r in recorded))
    return recorded
