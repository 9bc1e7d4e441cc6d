"""What a build recorded, read back and checked against the configuration that distils from it:
frame timing, sample rate, record format and front-end recipe must agree; split fractions, seed
and preset are noted.

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
from kerasemo.data import emovoxceleb, schema, voxceleb
from kerasemo.data.emovoxceleb.plan import frontend_recipe
from kerasemo.data.shard_config import (
    FRAME_SPACING,
    RECIPE,
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


def _edit_plan(folder, edit):
    plan = json.loads((folder / "plan.json").read_text())
    edit(plan)
    (folder / "plan.json").write_text(json.dumps(plan))


# The VGGVox recipe (the authors' compute_audio_feats.m), as the build records it.
_RECIPE = {
    "sample_rate": 16000, "stored_bins": 257, "frame_length": 400, "frame_step": 160, "fft_length": 512,
    "int16_scale": 32768.0, "preemphasis": 0.97, "dc_alpha": 0.99,
}


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
        "name": ("demo", "plan.json"),
        "frontend.sample_rate": (16000, "plan.json"),
        STORED_BINS: (257, "plan.json"),
        **{f"{RECIPE}.{k}": (v, "plan.json") for k, v in _RECIPE.items() if k not in ("sample_rate", "stored_bins")},
        FRAME_SPACING: (0.24, first_train),
    }


def test_the_plan_records_the_preset_and_the_front_end_recipe(single_build, vox1):
    info = json.loads((single_build / "plan.json").read_text())["info"]
    assert info["preset"] == "demo" and info["frontend"] == _RECIPE
    # Not part of the fingerprint: a build from before resumes; waveforms record no recipe.
    assert frontend_recipe() == _RECIPE
    tracks, report = voxceleb.scan(vox1[0], "voxceleb1")
    labeller = emovoxceleb.TeacherLabeller(None, lambda *a, **k: None)
    plan = emovoxceleb.plan_build(
        tracks, report, labeller=labeller, config=load_config("paper"),
        options=emovoxceleb.BuildOptions(audio="waveform"),
    )
    assert plan.info["preset"] == "paper" and "frontend" not in plan.info
    assert not {"preset", "frontend", "sample_rate", "preemphasis"} & set(plan.fingerprint)


def test_the_build_configuration_passes_without_a_warning(single_build, caplog):
    with caplog.at_level(logging.WARNING):
        checked = check_shard_config(single_build, load_config("demo"))
    assert len(checked) == 16 and caplog.records == []


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("preemphasis", 0.95, "recipe.preemphasis: 0.95 in the shards (plan.json), 0.97 in the configuration"),
        ("dc_alpha", 0.999, "recipe.dc_alpha: 0.999 in the shards (plan.json), 0.99 in the configuration"),
        ("frame_step", 80, "recipe.frame_step: 80 in the shards (plan.json), 160 in the configuration"),
        ("int16_scale", 1.0, "recipe.int16_scale: 1.0 in the shards (plan.json), 32768.0 in the configuration"),
        ("window", "hann", "recipe.window: 'hann' in the shards (plan.json), None in the configuration"),
        ("stored_bins", 513, f"{STORED_BINS}: 513 in the shards (plan.json), 257 in the configuration"),
    ],
)
def test_another_front_end_recipe_stops_naming_key_and_values(build_copy, name, value, message):
    _edit_plan(build_copy, lambda plan: plan["info"]["frontend"].update({name: value}))
    with pytest.raises(ShardConfigMismatchError) as info:
        check_shard_config(build_copy, load_config("demo"))
    text = str(info.value)
    assert message in text and "rebuild the shards with this version of kerasemo" in text
    assert text.count("\n- ") == 1  # only the tampered entry


def test_a_build_from_before_the_recipe_is_checked_on_what_it_recorded(build_copy, caplog):
    _edit_plan(build_copy, lambda plan: [plan["info"].pop(key) for key in ("preset", "frontend")])
    settings = _settings(build_copy)
    assert not any(key.startswith(f"{RECIPE}.") for key in settings)
    assert settings["name"] == ("demo", "config.toml") and settings["frontend.sample_rate"] == (16000, "config.toml")
    assert settings[STORED_BINS][0] == 257 and settings[STORED_BINS][1].startswith("train-")
    with caplog.at_level(logging.WARNING):
        assert len(check_shard_config(build_copy, load_config("demo"))) == 10
    assert caplog.records == []


def test_split_fractions_and_preset_are_only_noted(single_build, caplog):
    with caplog.at_level(logging.WARNING):
        check_shard_config(single_build, load_config("paper"))
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert "name: 'demo' in the shards (plan.json), 'paper' in the configuration" in warnings[1]
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
    def file_splits_without_preset(plan):
        plan["fingerprint"]["split_source"] = "file"
        del plan["info"]["preset"]

    _edit_plan(build_copy, file_splits_without_preset)
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
    assert settings["name"] == ("demo", "plan.json") and settings["frames.frame_stride"] == (6, "plan.json")


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
