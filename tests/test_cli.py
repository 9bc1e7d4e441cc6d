"""The ``kerasemo`` command: the stage table, dispatch, dash/underscore names, errors, and a
``--help`` (its own and every stage's) that does not load TensorFlow and answers at once."""

import ast
import os
import pathlib
import subprocess
import sys
import time
import types

import pytest

import kerasemo
from kerasemo import cli

EXPERIMENTS = pathlib.Path(kerasemo.__file__).parent / "experiments"


def _modules_with_main() -> set[str]:
    """Entry-point modules in kerasemo/experiments/ (a top-level ``def main``), read without
    importing them."""
    found = set()
    for path in EXPERIMENTS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            found.add(path.stem)
    return found


def test_every_entry_point_is_a_stage_except_the_benchmark_parts():
    stage_modules = {stage.module.rsplit(".", 1)[1] for stage in cli.STAGES}
    entry_points = {name for name in _modules_with_main() if not name.startswith("bench_")}
    assert stage_modules == entry_points
    assert len(cli.STAGES) == 11


def test_stage_table_is_well_formed():
    names = cli.stage_names()
    assert len(names) == len(set(names))
    for stage in cli.STAGES:
        assert stage.name == stage.module.rsplit(".", 1)[1].replace("_", "-")
        assert stage.module.startswith("kerasemo.experiments.")
        assert stage.summary and "\n" not in stage.summary
        # One line each in an 80-column terminal.
        assert len(stage.summary) + max(map(len, names)) + 4 <= 80, stage.name


@pytest.mark.parametrize("name", ["train-teacher", "train_teacher"])
def test_dashes_and_underscores_name_the_same_stage(name):
    assert cli.resolve_stage(name).module == "kerasemo.experiments.train_teacher"


def test_unknown_stage_is_a_one_line_error_listing_the_stages(capsys):
    assert cli.main(["trian-teacher", "--help"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "unknown stage 'trian-teacher'" in lines[0]
    assert "did you mean 'train-teacher'" in lines[0]
    for name in cli.stage_names():
        assert name in lines[0]


def test_no_stage_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "name a stage: make-synthetic" in capsys.readouterr().err


def test_help_lists_every_stage_with_its_summary(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    for stage in cli.STAGES:
        assert [stage.name, *stage.summary.split()] in rows


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kerasemo {kerasemo.__version__}"


@pytest.fixture
def fake_stage(monkeypatch):
    """Replaces the predict stage's module by one that records its argv."""
    calls = []
    module = types.ModuleType("kerasemo_fake_stage")
    module.main = lambda argv: calls.append(argv) or 3
    monkeypatch.setitem(sys.modules, module.__name__, module)
    stages = tuple(
        cli.Stage(s.name, module.__name__, s.summary) if s.name == "predict" else s
        for s in cli.STAGES
    )
    monkeypatch.setattr(cli, "STAGES", stages)
    return calls


def test_the_stage_gets_every_argument_after_its_name_and_its_exit_code_is_returned(fake_stage):
    argv = ["clip.wav", "--help", "--version", "--model", "m.keras"]
    assert cli.main(["predict", *argv]) == 3
    assert fake_stage == [argv]


def test_a_stage_with_no_arguments_gets_an_empty_list_not_sys_argv(fake_stage, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["kerasemo", "predict"])
    cli.main()
    assert fake_stage == [[]]


def test_a_real_stage_runs_through_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["make_synthetic", "--help"])
    assert exit_info.value.code == 0
    assert "--preset" in capsys.readouterr().out


def test_help_in_a_fresh_process_does_not_import_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from kerasemo.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert "stages:" in result.stdout


def test_python_dash_m_kerasemo_is_the_same_command(tmp_path):
    command = [sys.executable, "-m", "kerasemo", "--version"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"kerasemo {kerasemo.__version__}"


HELP_SECONDS = 1.0
"""What ``--help`` of any stage may take in a fresh process (it loads no TensorFlow)."""


def test_no_stage_loads_tensorflow_to_describe_itself(tmp_path):
    modules = [stage.module for stage in cli.STAGES]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name).build_parser().format_help()\n"
        "print('HEAVY', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


@pytest.mark.parametrize("stage", [stage.module for stage in cli.STAGES])
def test_every_stage_answers_help_within_a_second(stage, tmp_path):
    def seconds():
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", stage, "--help"], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0 and "usage: python -m" in result.stdout, result.stderr
        return time.perf_counter() - started

    # The fastest of three runs: a machine busy with other work should not fail the test.
    assert min(seconds() for _ in range(3)) < HELP_SECONDS
