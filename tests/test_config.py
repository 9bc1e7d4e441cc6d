"""Presets load and validate; overrides are typed; errors name the offending key."""

import dataclasses

import pytest

from kerasemo import config as cfg


@pytest.mark.parametrize("name", cfg.available_presets())
def test_every_preset_file_loads_validates_and_round_trips(name):
    config = cfg.load_config(name)
    assert config.name == name
    assert config.description, f"{name}.toml should say what it is for"
    # Writing the resolved config and reading it back gives the same object.
    assert cfg.config_from_dict(__import__("tomllib").loads(cfg.to_toml(config))) == config


def test_presets_include_paper_and_demo():
    assert {"paper", "demo"} <= set(cfg.available_presets())


def test_presets_are_package_data_that_the_wheel_ships():
    import importlib.resources
    import pathlib
    import tomllib

    folder = importlib.resources.files("kerasemo") / "presets"
    assert {"paper.toml", "demo.toml"} <= {entry.name for entry in folder.iterdir()}
    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    assert "presets/*.toml" in package_data["kerasemo"]


def test_presets_load_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cfg.load_config("demo").name == "demo"


def test_a_path_to_your_own_toml_file_still_loads(tmp_path, monkeypatch):
    mine = 'name = "mine"\ndescription = "mine"\n[distill]\nepochs = 3\n'
    (tmp_path / "mine.toml").write_text(mine)
    monkeypatch.chdir(tmp_path)
    for name_or_path in ("mine.toml", tmp_path / "mine.toml", str(tmp_path / "mine.toml")):
        config = cfg.load_config(name_or_path)
        assert (config.name, config.distill.epochs) == ("mine", 3)


def test_paper_preset_holds_every_setting_of_the_method():
    paper = cfg.load_config("paper")
    # Student input (VGGVox recipe): 4 s crops of 512 x 400.
    assert paper.frontend.num_bins == 512
    assert paper.frontend.crop_frames == 400
    from kerasemo.audio.reference import crop_samples_for_frames

    assert crop_samples_for_frames(paper.frontend.crop_frames) == 64_384
    assert not hasattr(paper.frontend, "dither")  # below the int16 noise floor: not applied
    # Student: Table 4.
    assert paper.student.conv_filters == (96, 256, 256, 256, 256)
    assert (paper.student.fc6_units, paper.student.fc7_units) == (4096, 1024)
    # Teacher: SE-ResNet-50 and the authors' FERPlus schedule.
    teacher = paper.teacher
    assert teacher.blocks_per_stage == (3, 4, 6, 3)
    assert (teacher.se_reduction, teacher.input_size, teacher.batch_size) == (16, 224, 128)
    assert teacher.mean_rgb == (131.0912, 103.8827, 91.4953)
    assert teacher.learning_rates == (1e-2, 1e-3, 1e-4) and teacher.epochs_per_rate == 60
    assert teacher.dropout == 0.5 and teacher.flip_probability == 0.5
    assert teacher.zoom == pytest.approx(1 / 25) and teacher.rotation_degrees == 10.0
    assert teacher.skew == 0.1 and teacher.augment_fraction == 0.5
    # Frames to tracks: every 6th frame at 25 fps (0.24 s), max pooling.
    assert paper.frames.frame_stride / paper.frames.video_fps == pytest.approx(0.24)
    assert paper.frames.pooling == "max"
    # Distillation.
    d = paper.distill
    assert (d.temperature, d.loss, d.batch_size, d.epochs) == (2.0, "authors", 64, 50)
    assert (d.learning_rate_start, d.learning_rate_end) == (1e-4, 1e-5)
    assert (d.momentum, d.weight_decay, d.select_on) == (0.9, 5e-4, "unheard_val")
    # Evaluation.
    e = paper.evaluation
    assert set(e.auc_excluded) == {"fear", "disgust", "contempt"}
    assert (e.probe_folds, e.probe_seed, e.probe_protocol) == (10, 0, "random10")


def test_paper_preset_equals_the_dataclass_defaults():
    paper = cfg.load_config("paper")
    assert dataclasses.replace(paper, description="") == cfg.ExperimentConfig()


def test_demo_preset_is_smaller_than_paper():
    demo, paper = cfg.load_config("demo"), cfg.load_config("paper")
    assert sum(demo.student.conv_filters) < sum(paper.student.conv_filters)
    assert demo.student.fc6_units < paper.student.fc6_units
    assert sum(demo.teacher.blocks_per_stage) < sum(paper.teacher.blocks_per_stage)
    assert demo.distill.precision == "float32"


def test_overrides_are_typed_and_validated():
    config = cfg.apply_overrides(
        cfg.load_config("demo"),
        [
            "distill.epochs=3",
            "frames.pooling=mean",
            "student.conv_filters=[8, 16, 16, 16, 16]",
            "frontend.mirror=false",
            "seed=7",
        ],
    )
    assert config.distill.epochs == 3
    assert config.frames.pooling == "mean"
    assert config.student.conv_filters == (8, 16, 16, 16, 16)
    assert config.frontend.num_bins == 257
    assert config.seed == 7
    # Integers are accepted where floats are expected.
    assert cfg.apply_overrides(config, ["distill.temperature=3"]).distill.temperature == 3.0


@pytest.mark.parametrize(
    "override, message",
    [
        ("distill.epoch=3", "unknown key 'distill.epoch'"),
        ("distil.epochs=3", "'distil' is not a section"),
        ("distill.epochs=three", "distill.epochs must be an integer; received 'three'"),
        ("distill.loss=kl", "distill.loss must be one of"),
        ("frames.pooling=median", "frames.pooling must be one of 'max', 'mean'"),
        ("student.conv_filters=[1, 2]", "student.conv_filters must be 5 positive integers"),
        ("frontend.mirror=1", "frontend.mirror must be true or false"),
        ("distill.learning_rate_end=1.0", "learning_rate_end <= learning_rate_start"),
        ("epochs", "is not of the form section.key=value"),
        ("evaluation.auc_excluded=['joy']", "'joy', which is not one of"),
    ],
)
def test_bad_overrides_name_the_key_and_the_fix(override, message):
    with pytest.raises(cfg.ConfigError, match=None) as info:
        cfg.apply_overrides(cfg.load_config("paper"), [override])
    assert message in str(info.value)


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(cfg.ConfigError, match="Available presets: .*demo.*paper"):
        cfg.load_config("papr")


def test_bad_toml_file_names_the_file_and_key(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[distill]\nbatchsize = 8\n')
    with pytest.raises(cfg.ConfigError, match=r"mine.toml: Unknown key\(s\) distill.batchsize"):
        cfg.load_config(path)
    path.write_text("name = \n")
    with pytest.raises(cfg.ConfigError, match="mine.toml is not valid TOML"):
        cfg.load_config(path)
    with pytest.raises(cfg.ConfigError, match="does not exist"):
        cfg.load_config(tmp_path / "absent.toml")


def test_save_config_writes_a_loadable_file(tmp_path):
    config = cfg.apply_overrides(cfg.load_config("demo"), ["distill.epochs=2"])
    path = cfg.save_config(config, tmp_path / "run")
    assert path.name == "config.toml"
    assert cfg.load_config(path) == config


def test_command_line_arguments(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    cfg.add_config_arguments(parser, default="demo")
    args = parser.parse_args(["--set", "distill.epochs=1", "--set", "seed=2"])
    config = cfg.config_from_args(args)
    assert (config.name, config.distill.epochs, config.seed) == ("demo", 1, 2)
