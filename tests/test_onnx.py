"""Tests of `kerasemo.export.onnx`: the waveform model (front-end + student) as ONNX.

A small student trained for a few steps (non-trivial batch-norm statistics) is exported once
with a variable time axis; the tests load the file the way a user would (``onnx.load``,
``onnxruntime.InferenceSession``) and compare it with the float32 Keras model within
`PARITY_TOLERANCE` (probabilities; logits relative to their scale).
"""

import json
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import tf2onnx
from test_export import SMALL, train_small_student

from kerasemo import export
from kerasemo.export import onnx as onnx_export

NEWEST_OPSET = max(tf2onnx.constants.OPSET_TO_IR_VERSION)
"""The newest opset the installed tf2onnx writes (18 for tf2onnx 1.17)."""


@pytest.fixture(scope="module")
def student():
    return train_small_student()


@pytest.fixture(scope="module")
def exported(student, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "models" / onnx_export.ONNX_FILENAME
    return onnx_export.export_onnx(student, path)


def test_report_describes_the_file_and_its_parity(exported):
    parity = exported["parity"]
    assert set(parity) == {"speech_window", "speech_0.3s", "speech_10s", "overall"}
    for case, figures in parity.items():
        assert export.within_tolerance(figures), (case, figures)
    assert parity["overall"]["clips"] == 3 * onnx_export.PARITY_CLIPS
    assert exported["window_samples"] == export.WINDOW_SAMPLES
    assert exported["input_shape"] == ["batch", "samples"]
    assert exported["opset"] == onnx_export.DEFAULT_OPSET
    assert exported["bytes"] > 0 and exported["conversion_seconds"] > 0


def test_file_is_a_valid_onnx_model_with_a_dft_spectrum(exported):
    model = onnx.load(exported["path"])
    onnx.checker.check_model(model, full_check=True)
    ops = {node.op_type for node in model.graph.node}
    assert "DFT" in ops and not ops & {"RFFT", "Real", "Imag"}
    assert {o.domain: o.version for o in model.opset_import}[""] == onnx_export.DEFAULT_OPSET


def test_onnxruntime_session_has_the_named_contract(exported):
    session = onnxruntime.InferenceSession(exported["path"], providers=["CPUExecutionProvider"])
    (waveform,) = session.get_inputs()
    assert (waveform.name, waveform.shape, waveform.type) == (
        "waveform",
        ["batch", "samples"],
        "tensor(float)",
    )
    assert {o.name: o.shape for o in session.get_outputs()} == {
        name: ["batch", 8] for name in export.OUTPUT_NAMES
    }


@pytest.mark.parametrize("samples", [7_000, 50_000])
def test_noise_of_any_length_matches_keras(exported, student, samples):
    """Uniform noise at full scale; 7,000 samples (< 10,320) is padded by both sides."""
    waveforms = np.random.default_rng(samples).uniform(-1, 1, (2, samples)).astype(np.float32)
    got = onnx_export.run_onnx(onnx_export.onnx_session(exported["path"], num_threads=1), waveforms)
    figures = export.compare_outputs(export.keras_reference(student, waveforms), got)
    assert export.within_tolerance(figures), figures
    np.testing.assert_array_equal(got["embedding"], got["logits"])


def test_fixed_window_export_takes_exactly_its_window(student, tmp_path):
    window = export.crop_samples_for_frames(100)
    report = onnx_export.export_onnx(student, tmp_path / "fixed.onnx", window, opset=18)
    assert report["input_shape"] == ["batch", window] and report["opset"] == 18
    assert set(report["parity"]) == {"speech_window", "overall"}
    assert export.within_tolerance(report["parity"]["overall"]), report["parity"]
    session = onnx_export.onnx_session(report["path"])
    assert session.get_inputs()[0].shape == ["batch", window]
    with pytest.raises(Exception, match="invalid dimensions for input: waveform"):
        onnx_export.run_onnx(session, np.zeros((1, window + 160), np.float32))


def test_session_on_a_file_that_is_not_onnx_is_an_export_error(tmp_path):
    path = tmp_path / "student.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(export.ExportError, match="ONNX Runtime could not load .*student.onnx"):
        onnx_export.onnx_session(path)


def test_missing_extra_names_the_install_command(student, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(export.ExportError, match=r"pip install 'kerasemo\[onnx\]'"):
        onnx_export.export_onnx(student, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_conversion_failure_names_the_op_and_tf2onnx_reason(student, tmp_path, monkeypatch):
    """Without the DFT handlers, tf2onnx's own RFFT conversion refuses the front-end."""
    monkeypatch.setattr(onnx_export, "ONNX_OP_HANDLERS", {})
    with pytest.raises(export.ExportError) as error:
        onnx_export.export_onnx(student, tmp_path / "m.onnx")
    message = str(error.value)
    assert "(RFFT)" in message and "(Real)" in message and "(Imag)" in message
    assert "only allows ComplexAbs as consumer" in message
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window_samples": 5_000}, "at least 10320.*received window_samples=5000"),
        ({"opset": 16}, "DFT op.*received opset=16"),
        ({"opset": NEWEST_OPSET + 1}, f"writes opsets up to {NEWEST_OPSET}; received"),
    ],
)
def test_bad_arguments_are_refused_before_converting(student, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        onnx_export.export_onnx(student, tmp_path / "m.onnx", **kwargs)


def test_export_command_writes_the_onnx_model_into_the_card(student, tmp_path, capsys):
    from kerasemo.experiments import export as export_cli

    student.save(tmp_path / "student.keras")
    out = tmp_path / "export"
    argv = ["--student", str(tmp_path / "student.keras"), "--out", str(out), "--onnx"]
    assert export_cli.main(argv + ["--no-saved-model", "--variants", "float32", "--holdout", "2"]) == 0
    card = json.loads((out / export.MODEL_CARD).read_text())
    assert (out / onnx_export.ONNX_FILENAME).stat().st_size > 0
    assert export.within_tolerance(card["parity"]["onnx"]["overall"])
    assert onnx_export.ONNX_FILENAME in capsys.readouterr().out


def test_a_log_magnitude_student_converts_its_log1p(tmp_path):
    # The demo preset's student takes log magnitudes; tf2onnx has no Log1p conversion.
    from kerasemo.models import VGGMStudent

    student = VGGMStudent(**SMALL, log_magnitude=True)
    report = onnx_export.export_onnx(student, tmp_path / onnx_export.ONNX_FILENAME)
    assert export.within_tolerance(report["parity"]["overall"]), report["parity"]["overall"]
    ops = {node.op_type for node in onnx.load(report["path"]).graph.node}
    assert "Log" in ops and "Log1p" not in ops
