"""What a build recorded, read back and checked against the configuration that distils from it:
frame timing, sample rate and record format must agree; split fractions, seed and preset are
noted.

Same fixture build (demo preset) as test_build_emovoxceleb; bare shards from shard_fixtures.
"""

import json
import logging
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from shard_fixtures import TINY_DISTILL, write_distill_splits
from test_build_emovoxceleb import single_build, teacher_path, vox1  # noqa: F401 - fixtures

from kerasemo.config import apply_overrides, load_config
from kerasemo.data import schema
from kerasemo.data.shard_config import (
    FRAME_SPACING,
    SCHEMA_VERSION,
    STORED_BINS,
    ShardConfigMismatchError,
    check_shard_config,
    compare,
    read_shard_settings,
)
from kerasemo.experiments import distill as distill_cli
from kerasemo.training import distill


def _settings(folder):
    return {item.key: (item.value, item.source) for item in read_shard_settings(folder)}


def _demo(*overrides):
    return apply_overrides(load_config("demo"), list(overrides))


@pytest.fixture
def build_copy(single_build, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(single_build, out)
    return out


@pytest.fixture(scope="module")
def bare_shards(tmp_path_factory):
    return write_distill_splits(tmp_path_factory.mktemp("bare"))


def test_reads_what_the_builder_recorded(single_build):
    settings = _settings(single_build)
    first_train = sorted(p.name for p in single_build.glob("train-*.tfrecord"))[0]
    assert settings == {
        "frames.video_fps": (25.0, "plan.json"),
        "frames.frame_stride": (6, "plan.json"),
        SCHEMA_VERSION: (schema.SCHEMA_VERSION, "plan.json"),
        "splits.unheard_identity_fraction": (0.2, "plan.json"),
        "splits.heard_val_fraction": (0.15, "plan.json"),  # the demo preset's
        "seed": (0, "plan.json"),
        "name": ("demo", "config.toml"),
        "frontend.sample_rate": (16000, "config.toml"),
        STORED_BINS: (257, first_train),
        FRAME_SPACING: (0.24, first_train),
    }


def test_the_build_configuration_passes_without_a_warning(single_build, caplog):
    with caplog.at_level(logging.WARNING):
        checked = check_shard_config(single_build, load_config("demo"))
    assert len(checked) == 10 and caplog.records == []


def test_split_fractions_and_preset_are_only_noted(single_build, caplog):
    with caplog.at_level(logging.WARNING):
        check_shard_config(single_build, load_config("paper"))
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert "name: 'demo' in the shards (config.toml), 'paper' in the configuration" in warnings[1]
    assert ("splits.heard_val_fraction: 0.15 in the shards (plan.json), 0.037 in the configuration; "
            "the shards' own splits are used") in warnings[0]
    assert "--set splits.heard_val_fraction=0.15" in warnings[0]


def test_other_frame_timing_stops_naming_key_values_and_fix(single_build):
    with pytest.raises(ShardConfigMismatchError) as info:
        check_shard_config(single_build, _demo("frames.frame_stride=3"))
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "frames.frame_stride: 6 in the shards (plan.json), 3 in the configuration; pass --set " \
           "frames.frame_stride=6" in message
    assert "rebuild them with this configuration" in message
    # The records' own frame times say the same: 0.24 s between labelled frames, not 0.12.
    assert f"{FRAME_SPACING}: 0.24 in the shards (train-" in message and "0.12 in the configuration" in message
    with pytest.raises(ShardConfigMismatchError, match=r"frames.video_fps: 25.0 in the shards \(plan.json\), "
                       r"30.0 in the configuration; pass --set frames.video_fps=25.0"):
        check_shard_config(single_build, _demo("frames.video_fps=30"))


def test_another_schema_version_asks_for_a_rebuild(build_copy):
    plan = json.loads((build_copy / "plan.json").read_text())
    plan["fingerprint"]["schema_version"] = schema.SCHEMA_VERSION + 1
    (build_copy / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(ShardConfigMismatchError, match=r"schema_version: 2 in the shards \(plan.json\), 1 in the "
                       r"configuration; rebuild the shards with this version of kerasemo"):
        check_shard_config(build_copy, load_config("demo"))


def test_file_splits_are_not_compared_with_the_configuration(build_copy, caplog):
    plan = json.loads((build_copy / "plan.json").read_text())
    plan["fingerprint"]["split_source"] = "file"
    (build_copy / "plan.json").write_text(json.dumps(plan))
    (build_copy / "config.toml").unlink()
    assert not {"seed", "splits.heard_val_fraction", "name"} & set(_settings(build_copy))
    with caplog.at_level(logging.WARNING):
        check_shard_config(build_copy, load_config("paper"))
    assert caplog.records == []


def test_an_unreadable_build_configuration_is_a_warning(build_copy, caplog):
    (build_copy / "config.toml").write_text('name = "demo"\n[frames]\nfps = 25\n')
    with caplog.at_level(logging.WARNING):
        settings = _settings(build_copy)
    assert "cannot read the build's" in caplog.text and "frames.fps" in caplog.text
    assert "name" not in settings and settings["frames.frame_stride"] == (6, "plan.json")


def test_bare_shards_are_checked_on_their_records(bare_shards):
    assert set(_settings(bare_shards)) == {SCHEMA_VERSION, "frontend.sample_rate", STORED_BINS, FRAME_SPACING}
    errors, warnings = compare(read_shard_settings(bare_shards), load_config("paper"))
    assert errors == [] and warnings == []


def test_another_sample_rate_in_the_records_stops(tmp_path):
    example = schema.make_example(
        identity="id1", video="v", track="00001", split="train", frame_logits=np.zeros((2, 8), np.float32),
        frame_times=np.array([0.0, 0.24]), num_samples=8000, spectrogram=np.ones((48, 257), np.float32),
        sample_rate=8000,
    )
    with tf.io.TFRecordWriter(str(tmp_path / "train-00000-of-00001.tfrecord")) as writer:
        writer.write(example.SerializeToString())
    with pytest.raises(ShardConfigMismatchError, match=r"frontend.sample_rate: 8000 in the shards "
                       r"\(train-00000-of-00001.tfrecord\), 16000 in the configuration; the front end reads "
                       r"16 kHz audio; rebuild"):
        check_shard_config(tmp_path, load_config("demo"))


def test_distill_stops_before_training_on_other_frame_timing(bare_shards, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ShardConfigMismatchError, match=re.escape(FRAME_SPACING)):
        distill(_demo(*TINY_DISTILL, "frames.frame_stride=3", "distill.epochs=1"), bare_shards, out, verbose=0)
    assert not (out / "distiller_history.csv").exists() and not (out / "backup").exists()
    argv = ["--data", str(bare_shards), "--out", str(tmp_path / "cli"), "--set", "frames.video_fps=50"]
    with pytest.raises(SystemExit, match=r"error: the shards in .* were built with other settings .*\n"
                       rf"- {re.escape(FRAME_SPACING)}: 0.24 in the shards"):
        distill_cli.main(argv)
