"""Every stage's default preset follows what was asked (demo without data, paper with it, an
explicit --config always wins), says so in --help, and the default input paths are where the
main job writes."""

import argparse
import os
import importlib
import io

import pytest

from kerasemo import config as config_lib
from kerasemo import demo
from kerasemo import arguments

# stage, arguments without a data path, its preset, arguments with one, its preset.
STAGES = [
    ("train_teacher", [], "demo", ["--data", "data/ferplus"], "paper"),
    ("distill", [], "demo", ["--data", "tfrecords/emovoxceleb"], "paper"),
    ("inspect", [], "demo", ["interview.m4a"], "paper"),
    ("diagnose_transfer", [], "demo", ["--corpus", "data/synthetic"], "demo"),
    ("build_emovoxceleb", ["--finalize"], "paper", ["--root", "data/voxceleb1", "--layout", "voxceleb1"], "paper"),
    ("build_emovoxceleb_beam", [], "paper", ["--root", "data/voxceleb1", "--layout", "voxceleb1"], "paper"),
    ("probe", ["--dataset", "rml", "--root", "r"], "paper", ["--dataset", "rml", "--root", "r"], "paper"),
    ("benchmark", [], "paper", ["--only", "probe"], "paper"),
]
RULES = {"demo without --data, paper with it", "demo without audio, paper with it", "demo", "paper"}


def _parse(stage: str, argv: list[str]) -> argparse.Namespace:
    parser = importlib.import_module(f"kerasemo.experiments.{stage}").build_parser()
    return parser.parse_known_args(argv)[0]


@pytest.mark.parametrize("stage, without, plain, with_data, real", STAGES, ids=[s[0] for s in STAGES])
def test_the_default_preset_follows_the_data_argument(stage, without, plain, with_data, real):
    assert config_lib.chosen_preset(_parse(stage, without)) == plain
    assert config_lib.chosen_preset(_parse(stage, with_data)) == real
    other = "paper" if real == "demo" else "demo"
    assert config_lib.chosen_preset(_parse(stage, with_data + ["--config", other])) == other
    assert config_lib.chosen_preset(_parse(stage, without + ["--config", other])) == other


@pytest.mark.parametrize("stage, without, plain, with_data, real", STAGES, ids=[s[0] for s in STAGES])
def test_the_loaded_configuration_is_the_chosen_preset(stage, without, plain, with_data, real):
    assert arguments.load_experiment(_parse(stage, without)).name == plain
    assert arguments.load_experiment(_parse(stage, with_data)).name == real


@pytest.mark.parametrize("stage, without", [s[:2] for s in STAGES], ids=[s[0] for s in STAGES])
def test_help_states_the_default_rule(stage, without):
    args = _parse(stage, without)
    rule = args.default_preset.describe()
    assert rule in RULES
    text = " ".join(importlib.import_module(f"kerasemo.experiments.{stage}").build_parser().format_help().split())
    assert f"(default: {rule})" in text


def test_default_preset_rule_in_words_and_for_a_positional():
    rule = config_lib.DefaultPreset(demo_without="audio")
    assert rule.resolve(argparse.Namespace(audio=None)) == "demo"
    assert rule.resolve(argparse.Namespace(audio="a.wav")) == "paper"
    assert config_lib.DefaultPreset("demo").describe() == "demo"


def test_train_teacher_runs_with_the_chosen_preset_and_verbosity(monkeypatch, tmp_path):
    from kerasemo.experiments import train_teacher

    calls = []

    def fake(experiment, data, out, **kwargs):
        calls.append((experiment.name, data, kwargs["verbose"]))
        raise SystemExit(0)

    monkeypatch.setattr("kerasemo.training.train_teacher", fake)
    for argv in ([], ["--data", str(tmp_path)], ["-q"], ["--data", str(tmp_path), "--config", "demo"]):
        with pytest.raises(SystemExit):
            train_teacher.main(["--out", str(tmp_path / "run"), *argv])
    # Captured output is not a terminal: one line per epoch (2); -q: silent (0).
    assert calls == [("demo", None, 2), ("paper", tmp_path, 2), ("demo", None, 0), ("demo", tmp_path, 2)]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "flags, stream, bars, keras",
    [([], _Terminal(), True, 1), ([], io.StringIO(), False, 2), (["-q"], _Terminal(), False, 0),
     (["-v"], io.StringIO(), False, 2)],
)
def test_progress_bars_only_on_a_terminal(flags, stream, bars, keras):
    parser = argparse.ArgumentParser()
    arguments.add_verbosity_arguments(parser)
    args = parser.parse_args(flags)
    assert arguments.progress_bars(args, stream) is bars
    assert arguments.keras_verbosity(args, stream) == keras


def test_help_formatter_states_defaults_once():
    parser = arguments.docstring_parser("kerasemo.experiments.x", "Does x.")
    parser.add_argument("--size", type=int, default=64, help="batch size")
    parser.add_argument("--out", default="runs/x", help="folder (default: the run's own)")
    parser.add_argument("--force", action="store_true", help="replace")
    arguments.add_verbosity_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "batch size (default: 64)" in text
    assert "folder (default: the run's own)" in text and "the run's own) (default" not in text
    assert "replace (default" not in text and "-vv also TensorFlow's native start-up lines (default" not in text


def test_default_inputs_are_where_the_main_job_writes():
    from kerasemo.experiments import diagnose_transfer, distill, probe

    assert _parse("probe", ["--dataset", "rml", "--root", "r"]).student == demo.DEFAULT_STUDENT
    assert str(demo.DEFAULT_STUDENT) == "runs/demo/distill/student.keras"
    assert str(demo.DEFAULT_TEACHER) == "runs/demo/teacher/teacher.keras"
    embedded = distill.build_parser().parse_args([])
    assert (embedded.corpus, embedded.work, embedded.shards) == (
        demo.DEFAULT_CORPUS, demo.DEFAULT_WORK, demo.DEFAULT_SHARDS)
    diagnosis = diagnose_transfer.build_parser().parse_args([])
    assert (diagnosis.corpus, diagnosis.shards) == (demo.DEFAULT_CORPUS, demo.DEFAULT_SHARDS)
    assert probe.DEFAULT_OUT.parts[0] == "runs"


def test_missing_default_student_says_who_writes_it(tmp_path, monkeypatch):
    from kerasemo.experiments import probe

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"runs/demo/distill/student.keras' does not exist; the main job "
                       r"writes it there: run `python -m kerasemo.experiments.distill` first"):
        probe.main(["--dataset", "rml", "--root", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"error: --student 'x.keras' does not exist\.$"):
        probe.main(["--dataset", "rml", "--root", str(tmp_path), "--student", "x.keras"])


def test_missing_teacher_says_who_writes_one(tmp_path):
    from kerasemo.experiments import build_emovoxceleb

    argv = ["--root", str(tmp_path), "--layout", "voxceleb1", "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=r"Teacher file not found: 'nope.keras' \(.*train_teacher` writes "
                       r"teacher.keras in its --out folder; the main job's is runs/demo/teacher/teacher.keras"):
        build_emovoxceleb.main([*argv, "--teacher", "nope.keras"])


def test_the_main_job_runs_with_reproducible_kernels_unless_told_otherwise(monkeypatch):
    from kerasemo.experiments import distill

    seen = []
    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: seen.append(dict(os.environ)) or "table")
    for name in demo.REPRODUCIBLE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    assert distill.main(["-q"]) == 0
    assert all(seen[0][name] == value for name, value in demo.REPRODUCIBLE_ENVIRONMENT.items())
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")  # a user's own choice is kept
    assert distill.main(["-q"]) == 0
    assert seen[1]["TF_ENABLE_ONEDNN_OPTS"] == "1"
