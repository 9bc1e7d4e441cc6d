"""Entry points: `inspect` and every entry point's help (the benchmark's: tests/test_benchmarks.py)."""

import importlib
import json
import subprocess
import sys

import pytest

from kerasemo.config import load_config
from kerasemo.experiments import inspect


def test_inspect_on_generated_clip_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "inspect"
    assert inspect.main(["--out", str(out), "--set", "student.fc6_units=64"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["table4_shapes_match"] is True
    bins = load_config("demo").frontend.num_bins  # the demo preset feeds the 257 rfft bins
    assert summary["spectrogram_shape"] == [bins, 598]  # 6 s -> floor((96000 - 400) / 160) + 1
    assert summary["max_deviation_from_reference"] < 1e-3
    assert {row["layer"] for row in summary["layers"]} == set(inspect.TABLE4_SHAPES)
    assert (out / "spectrogram.png").stat().st_size > 10_000
    # The resolved configuration, overrides included, is saved beside the results.
    assert load_config(out / "config.toml").student.fc6_units == 64
    printed = capsys.readouterr().out
    assert "no training happens here" in printed and "random weights" in printed


def test_inspect_decodes_a_real_file(tmp_path):
    import numpy as np
    import soundfile

    path = tmp_path / "clip.wav"
    soundfile.write(path, np.sin(np.arange(44100 * 2) * 0.05).astype("float32") * 0.3, 44100)
    argv = [str(path), "--out", str(tmp_path / "o"), "--config", "demo", "--set", "frontend.mirror=false"]
    assert inspect.main(argv) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["spectrogram_shape"] == [257, 198]  # 2 s at 16 kHz, 257-bin option


def test_inspect_reports_bad_input_without_a_traceback(tmp_path):
    with pytest.raises(SystemExit, match="error: .*missing.wav"):
        inspect.main([str(tmp_path / "missing.wav"), "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="error: .*unknown key 'distill.epoch'"):
        inspect.main(["--set", "distill.epoch=1", "--out", str(tmp_path)])


ENTRY_POINTS = ["inspect", "distill", "train_teacher", "build_emovoxceleb",
                "build_emovoxceleb_beam", "diagnose_transfer", "make_synthetic"]


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_help_explains_the_entry_point(name, capsys):
    module = importlib.import_module(f"kerasemo.experiments.{name}")
    with pytest.raises(SystemExit) as info:
        module.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "usage: python -m kerasemo.experiments." in text and len(text) > 400


def test_building_the_parser_loads_no_tensorflow():
    """`build_emovoxceleb --help` answers at once: TensorFlow loads only once the work starts."""
    code = ("import sys; from kerasemo.experiments import build_emovoxceleb, build_emovoxceleb_beam; "
            "build_emovoxceleb.build_parser(); build_emovoxceleb_beam.build_parser(); "
            "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.stdout.strip() == "[]", completed.stderr[-2000:]
