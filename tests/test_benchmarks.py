"""The benchmarks package: section registry, command line, table writer, and the foundation run."""

import argparse
import ast
import json
import os
import pathlib
import pkgutil
import re
import subprocess
import sys
import textwrap

import pytest

import kerasemo
import kerasemo.benchmarks
import kerasemo.export.onnx
from kerasemo import cli as kerasemo_cli
from kerasemo import config as config_lib
from kerasemo.benchmarks import (
    SECTION_MODULES,
    SECTIONS,
    TITLES,
    Figure,
    cli,
    harness,
    render_section,
    routes,
    update_markdown,
)
from kerasemo.benchmarks import export as export_section
from kerasemo.demo import DEFAULT_STUDENT
from kerasemo.export import SAMPLE_RATE, WINDOW_SAMPLES, crop_samples_for_frames
from kerasemo.experiments import benchmark
from kerasemo.inference.agreement import ROUTE_SECONDS
from kerasemo.models import student_from_config

BENCHMARKS = pathlib.Path(kerasemo.benchmarks.__file__).parent
TABLE = pathlib.Path(kerasemo.__file__).parents[1] / "experiments" / "benchmarks.md"
NOT_SECTIONS = {"harness", "sections", "cli", "random_shards", "scale_worker", "__main__"}


def test_update_markdown_replaces_only_its_section(tmp_path):
    path = tmp_path / "benchmarks.md"
    figures = [Figure("x", 0.5, "ratio", goal=">= 0.4", met=True)]
    first = render_section("a", "Section A", figures, "a machine", "cmd")
    other = render_section("b", "Section B", figures, "a machine", "cmd")
    update_markdown(path, {"a": first, "b": other})
    figures[0].value, figures[0].met = 0.1, False
    update_markdown(path, {"a": render_section("a", "Section A", figures, "m", "c")})
    text = path.read_text()
    assert text.count("<!-- benchmark:a -->") == 1 and text.count("<!-- benchmark:b -->") == 1
    assert "| x | 0.1000 | ratio | >= 0.4 | **no** |" in text
    assert "| x | 0.5000 | ratio | >= 0.4 | yes |" in text  # section b kept as it was


@pytest.mark.parametrize("entry", [cli.main, benchmark.main])
def test_benchmark_rejects_unknown_sections(entry):
    with pytest.raises(SystemExit, match="Unknown section.*nonsense.*choose from foundation"):
        entry(["--only", "nonsense", "--no-write"])


def test_only_takes_names_space_or_comma_separated():
    assert cli.selected_sections(None) == list(SECTIONS)
    assert cli.selected_sections(["probe,export", "beam"]) == ["probe", "export", "beam"]


def test_bad_counts_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["--steps", "0"])
    assert info.value.code == 2
    assert "--steps: expected a positive integer, received '0'" in capsys.readouterr().err


def test_every_section_module_is_registered():
    modules = {info.name for info in pkgutil.iter_modules([str(BENCHMARKS)])} - NOT_SECTIONS
    registered = {module.__name__.rsplit(".", 1)[1]: module for module in SECTION_MODULES}
    assert set(registered) == modules
    assert list(SECTIONS) == list(TITLES) == [module.NAME for module in SECTION_MODULES]
    for name, module in registered.items():
        assert module.NAME == name
        assert SECTIONS[name] is module.measure and TITLES[name] == module.TITLE
        assert "(issue" not in module.TITLE


def test_section_titles_are_those_of_the_table():
    text = TABLE.read_text(encoding="utf-8")
    for name, title in TITLES.items():
        assert f"<!-- benchmark:{name} -->\n## {title}\n" in text, name


def test_benchmark_modules_import_no_entry_point_and_no_private_name():
    for path in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("kerasemo.experiments"), (path.name, node.module)
                if not node.module.startswith("kerasemo.benchmarks"):
                    private = [a.name for a in node.names if a.name.startswith("_")]
                    assert not private, (path.name, node.module, private)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("kerasemo.experiments"), (path.name, alias.name)


def test_the_table_is_written_under_the_working_directory():
    output = cli.build_parser().parse_args([]).output
    assert output == pathlib.Path("experiments") / "benchmarks.md" and not output.is_absolute()


def test_python_dash_m_kerasemo_benchmarks_help_loads_no_tensorflow(tmp_path):
    code = textwrap.dedent(
        """
        import runpy, sys
        sys.argv = ['kerasemo.benchmarks', '--help']
        try:
            runpy.run_module('kerasemo.benchmarks', run_name='__main__')
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        print('HEAVY', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: python -m kerasemo.benchmarks" in result.stdout
    assert "HEAVY []" in result.stdout
    for name, title in TITLES.items():
        assert re.search(rf"^  {name} +{re.escape(title)}$", result.stdout, re.M), name


def test_help_of_the_experiments_alias_and_the_kerasemo_command(capsys):
    with pytest.raises(SystemExit) as info:
        benchmark.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: python -m kerasemo.experiments.benchmark" in text and len(text) > 400
    with pytest.raises(SystemExit) as info:
        kerasemo_cli.main(["benchmark", "--help"])
    assert info.value.code == 0
    assert "usage: python -m kerasemo.experiments.benchmark" in capsys.readouterr().out


def test_only_one_section_is_replaced_in_the_table_in_its_format(tmp_path, monkeypatch):
    """``--only`` rewrites its section of an existing table in place, in the table's format."""
    output = tmp_path / "benchmarks.md"
    output.write_text(TABLE.read_text(encoding="utf-8"), encoding="utf-8")
    figures = [Figure("generation", 12.5, "s", goal="<= 60", met=True, note="fake")]
    monkeypatch.setitem(SECTIONS, "synthetic", lambda args: figures)
    monkeypatch.setattr(cli, "describe_machine", lambda: "a test machine")
    assert cli.main(["--only", "synthetic", "--output", str(output)]) == 0

    def split(text):
        pattern = r"(<!-- benchmark:synthetic -->.*?<!-- /benchmark:synthetic -->)"
        before, section, after = re.split(pattern, text, flags=re.S)
        return before + after, section

    old_rest, old_section = split(TABLE.read_text(encoding="utf-8"))
    new_rest, new_section = split(output.read_text(encoding="utf-8"))
    assert new_rest == old_rest
    old_lines, new_lines = old_section.splitlines(), new_section.splitlines()
    assert new_lines[:2] == old_lines[:2] and new_lines[-1] == old_lines[-1]
    assert new_lines[3].startswith("Measured ") and new_lines[3].endswith(" on a test machine.")
    assert new_lines[4] == (
        "Command: `python -m kerasemo.benchmarks --only synthetic --output "
        f"{output}`. Ratios were measured side by side in that one run; absolute"
    )
    assert new_lines[5:9] == old_lines[5:9]  # the sentence's end, blank line, table header
    assert new_lines[9] == "| generation | 12.50 | s | <= 60 | yes | fake |"


@pytest.mark.slow
def test_foundation_benchmark_runs_end_to_end(tmp_path):
    """The benchmark entry point measures every promised figure (tiny batch, one step)."""
    output, json_path = tmp_path / "b.md", tmp_path / "b.json"
    argv = ["--only", "foundation", "--batch-size", "2", "--steps", "1", "--repeats", "1",
            "--reference-clips", "1"]
    assert benchmark.main(argv + ["--output", str(output), "--json", str(json_path)]) == 0
    figures = {f["name"]: f for f in json.loads(json_path.read_text())["sections"]["foundation"]}
    for name in (
        "conv2d throughput (machine reference)",
        "student training throughput",
        "achieved / machine conv throughput",
        "waveform front-end per batch / training step",
        "graph / NumPy reference throughput",
        "peak memory of the training step",
    ):
        assert figures[name]["value"] > 0, name
    text = output.read_text()
    assert text.startswith(harness.MARKDOWN_HEADER)
    assert "<!-- benchmark:foundation -->" in text


TINY_STUDENT = ["--set", "student.conv_filters=[8,16,16,16,16]", "--set", "student.fc6_units=32",
                "--set", "student.fc7_units=16", "--set", "frontend.crop_frames=200"]
"""A preset student small enough for a section to run in seconds, and its 200-frame window."""
TINY_WINDOW_S = crop_samples_for_frames(200) / SAMPLE_RATE


def _section_figures(argv, tmp_path) -> dict[str, dict]:
    """Runs one section through the command line; its figures by name, from the JSON file."""
    json_path = tmp_path / "figures.json"
    assert cli.main([*argv, "--output", str(tmp_path / "b.md"), "--json", str(json_path)]) == 0
    (section,) = json.loads(json_path.read_text())["sections"].values()
    return {figure["name"]: figure for figure in section}


@pytest.mark.slow
def test_export_section_times_onnx_beside_tflite(tmp_path):
    figures = _section_figures(["--only", "export", "--repeats", "1", *TINY_STUDENT], tmp_path)
    assert f"per {TINY_WINDOW_S:.3f} s window" in figures["RTF, Keras predict"]["note"]
    for model in export_section.ONNX_MODELS:
        name = f"ONNX ({model})"
        assert 0 < figures[f"RTF, {name}"]["value"] < 1, name
        assert "ONNX Runtime" in figures[f"RTF, {name}"]["note"]
        ratio = figures[f"RTF, {name}"]["value"] / figures["RTF, Keras predict"]["value"]
        assert figures[f"RTF ratio, {name} / Keras predict"]["value"] == pytest.approx(ratio)
        assert figures[f"size, {name}"]["value"] > 0 and figures[f"conversion, {name}"]["value"] > 0
        assert figures[f"{name}: max |p - p_keras|"]["met"] is True
    for variant in ("float32", "float16", "int8"):
        assert figures[f"conversion, TFLite {variant}"]["value"] > 0
    assert figures["TFLite float32: max |p - p_keras|"]["met"] is True
    assert figures["TFLite int8: max |p - p_keras|"]["goal"] == ""
    assert "ONNX" not in figures  # the row of a missing onnx extra
    assert "| ONNX (any length): max \\|p - p_keras\\| |" in (tmp_path / "b.md").read_text()


def test_export_section_says_when_the_onnx_extra_is_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # import tf2onnx raises ImportError
    reports, rows = export_section._onnx_or_missing(object(), tmp_path, WINDOW_SAMPLES)
    assert reports == {} and [(row.name, row.value) for row in rows] == [("ONNX", None)]
    assert rows[0].note.startswith("not measured: The ONNX export needs tf2onnx, onnx and onnxrun")
    assert "pip install 'kerasemo[onnx]'" in rows[0].note
    assert "| ONNX | n/a |  |" in render_section("export", "E", rows, "m", "cmd")


def test_export_section_fails_on_a_conversion_error(monkeypatch, tmp_path):
    def fail(*args):
        raise kerasemo.export.ExportError("tf2onnx could not convert RFFT")

    monkeypatch.setattr(kerasemo.export.onnx, "export_onnx", fail)
    with pytest.raises(kerasemo.export.ExportError, match="could not convert RFFT"):
        export_section._onnx_or_missing(object(), tmp_path, WINDOW_SAMPLES)


def test_routes_student_is_the_one_given_else_the_main_jobs(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--student .*nowhere.keras: no such file"):
        routes.choose_student(argparse.Namespace(student=tmp_path / "nowhere.keras"), tmp_path)
    given = tmp_path / "mine.keras"
    given.write_bytes(b"")
    chosen = routes.choose_student(argparse.Namespace(student=given), tmp_path)
    assert chosen.path == given and chosen.origin == f"{given} (--student)"
    monkeypatch.chdir(tmp_path)
    DEFAULT_STUDENT.parent.mkdir(parents=True)
    DEFAULT_STUDENT.write_bytes(b"")
    chosen = routes.choose_student(argparse.Namespace(student=None), tmp_path)
    assert chosen.path == DEFAULT_STUDENT and "main job's trained student" in chosen.origin


@pytest.mark.slow
def test_routes_section_compares_every_format_with_the_keras_route(monkeypatch, tmp_path):
    """Without --student or a main-job student, a random tiny student: every route, every length."""
    monkeypatch.chdir(tmp_path)  # no runs/demo/distill/student.keras here
    figures = _section_figures(["--only", "routes", *TINY_STUDENT], tmp_path)
    experiment = config_lib.config_from_args(cli.build_parser().parse_args(TINY_STUDENT))
    assert figures["student"]["value"] == student_from_config(experiment).count_params()
    assert "random weights" in figures["student"]["note"]
    assert figures["clips per length"]["value"] == 8
    window = figures["TFLite window"]["value"]
    assert window == pytest.approx(TINY_WINDOW_S)  # the preset's crop, not the paper's
    seconds = sorted([*ROUTE_SECONDS, window])
    assert figures["clips per length"]["note"].endswith(", ".join(f"{s:g}" for s in seconds) + " s")
    for route in routes.ROUTES.values():
        for length in seconds:
            dp = figures[f"{route}, {length:g} s: max |dp|"]
            agreement = figures[f"{route}, {length:g} s: argmax agreement"]
            assert 0 <= dp["value"] <= 1 and 0 <= agreement["value"] <= 1
            one_pass = route == "SavedModel" or length <= window
            assert dp["note"].startswith("one pass") is one_pass, (route, length)
            held = one_pass and route != "TFLite int8"
            assert dp["met"] is (True if held else None), (route, length)
    beyond = [s for s in seconds if s > window]
    notes = [figures[f"TFLite int8, {s:g} s: max |dp|"]["note"] for s in beyond]
    windows = [int(note.split(" windows averaged")[0]) for note in notes]
    assert windows == sorted(set(windows)) and windows[0] >= 2  # more windows for longer clips
    text = (tmp_path / "b.md").read_text()
    assert "<!-- benchmark:routes -->\n## One answer per route\n" in text
    assert "| SavedModel, 20 s: max \\|dp\\| |" in text
