"""Tests of `kerasemo.export` and the export entry point.

One small student is trained for a few steps (so batch-norm statistics are not trivial), saved
as the distill stage saves it (``student.keras`` beside ``config.toml`` and ``auc.json``), and
exported once for the module through the entry point: SavedModel + float32/float16/int8 TFLite +
model card. The tests then load each artefact the way a user would (``tf.saved_model.load``,
LiteRT's ``Interpreter``) and compare it with the Keras model.

Parity metric (as in the model card): max |p - p_keras| over the probabilities, and
max |logit - logit_keras| / max(1, max |logit_keras|) over the logits; float32 models must be
within 1e-4 on both.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from kerasemo import config as config_lib
from kerasemo import emotions, export
from kerasemo.audio import vggvox_spectrogram_reference
from kerasemo.audio.signals import speech_like_signal
from kerasemo.experiments import export as export_cli
from kerasemo.models import VGGMStudent

SMALL = dict(
    input_bins=257,
    mirror_input=True,
    conv_filters=(8, 16, 16, 16, 16),
    fc6_units=32,
    fc7_units=16,
)
TOLERANCE = export.PARITY_TOLERANCE
AUC = {"heard_val": {"mean": 0.61}, "unheard_val": {"mean": 0.58}, "heard_minus_unheard": 0.03}


def train_small_student(seed=0, steps=4, dtype=None):
    """A small student fitted for a few steps on random spectrograms and soft targets."""
    keras.utils.set_random_seed(seed)
    student = VGGMStudent(**SMALL, dtype=dtype)
    student.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(seed)
    spectrograms = rng.gamma(2.0, 1000.0, (4 * steps, 257, 100)).astype("float32")
    targets = keras.ops.convert_to_numpy(keras.ops.softmax(rng.standard_normal((4 * steps, 8))))
    student.fit(spectrograms, targets, batch_size=4, epochs=1, verbose=0)
    return student


def _relative_logit_error(reference, logits):
    scale = max(1.0, float(np.max(np.abs(reference))))
    return float(np.max(np.abs(np.asarray(logits) - reference))) / scale


def _assert_parity(reference, candidate, tolerance=TOLERANCE):
    dp = float(np.max(np.abs(np.asarray(candidate["probabilities"]) - reference["probabilities"])))
    dl = _relative_logit_error(reference["logits"], candidate["logits"])
    assert dp <= tolerance and dl <= tolerance, (dp, dl)
    np.testing.assert_array_equal(
        np.asarray(candidate["embedding"]), np.asarray(candidate["logits"])
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Trains, saves and exports the small student once, through the entry point."""
    root = tmp_path_factory.mktemp("export")
    run_dir = root / "run"
    run_dir.mkdir()
    student = train_small_student()
    student.save(run_dir / "student.keras")
    config_lib.save_config(config_lib.load_config("demo"), run_dir)
    (run_dir / "auc.json").write_text(json.dumps(AUC))
    out = root / "saved_models" / "small"
    assert export_cli.main(
        ["--student", str(run_dir / "student.keras"), "--out", str(out), "--holdout", "8"]
    ) == 0
    card = json.loads((out / export.MODEL_CARD).read_text())
    loaded = keras.saving.load_model(run_dir / "student.keras")
    model = export.build_waveform_model(loaded)
    return {"student": loaded, "out": out, "card": card, "model": model}


def _speech(seconds, seed, f0=140.0):
    return speech_like_signal(seconds, seed=seed, f0=f0)[None, :]


# ---------------------------------------------------------------------------------------------
# SavedModel.


def test_saved_model_has_its_three_signatures_with_named_outputs(exported):
    loaded = tf.saved_model.load(str(exported["out"] / "1"))
    assert set(loaded.signatures) == {"serving_default", "waveforms_with_lengths", "spectrogram"}
    for name, (key, shape) in {
        "serving_default": ("waveform", [None, None]),
        "waveforms_with_lengths": ("waveform", [None, None]),
        "spectrogram": ("spectrogram", [None, 257, None]),
    }.items():
        function = loaded.signatures[name]
        spec = function.structured_input_signature[1][key]
        assert spec.shape.as_list() == shape and spec.dtype == tf.float32
        assert set(function.structured_outputs) == {"logits", "probabilities", "embedding"}
        for output in function.structured_outputs.values():
            assert output.shape.as_list() == [None, 8]


def test_saved_model_stores_each_weight_once(exported):
    """keras-team/keras#23553: ExportArchive would store every weight twice."""
    stored = tf.train.list_variables(str(exported["out"] / "1" / "variables" / "variables"))
    count = sum(int(np.prod(shape)) for name, shape in stored if "OBJECT_GRAPH" not in name)
    assert count == exported["student"].count_params()


@pytest.mark.parametrize(
    "kind, samples",
    [
        ("speech", 3 * 16000),
        ("speech", export.WINDOW_SAMPLES),
        ("noise", 50_000),
        ("speech", 7_000),
    ],
)
def test_saved_model_waveform_parity(exported, kind, samples):
    """Two clips of one length per call; 7,000 samples (< 10,320) is padded by both sides."""
    rng = np.random.default_rng(samples)
    if kind == "noise":
        waveforms = rng.uniform(-1, 1, (2, samples)).astype("float32")
    else:
        waveforms = np.concatenate(
            [_speech(samples / 16000, seed=s, f0=f0) for s, f0 in ((11, 110.0), (12, 220.0))]
        )
    loaded = tf.saved_model.load(str(exported["out"] / "1"))
    got = loaded.signatures["serving_default"](waveform=tf.constant(waveforms))
    reference = export.keras_reference(exported["model"], waveforms)
    _assert_parity(reference, {k: v.numpy() for k, v in got.items()})


def test_saved_model_front_end_is_the_training_front_end(exported):
    """The graph front-end agrees with the NumPy reference recipe the shards can be built with."""
    waveform = _speech(3.0, seed=21)
    loaded = tf.saved_model.load(str(exported["out"] / "1"))
    got = loaded.signatures["serving_default"](waveform=tf.constant(waveform))
    spectrogram = vggvox_spectrogram_reference(waveform[0], mirror=False, normalize=False)
    logits = keras.ops.convert_to_numpy(exported["student"](spectrogram[None].astype("float32")))
    assert _relative_logit_error(logits, got["logits"].numpy()) <= 1e-3


def test_saved_model_spectrogram_signature_parity(exported):
    student = exported["student"]
    rng = np.random.default_rng(3)
    loaded = tf.saved_model.load(str(exported["out"] / "1"))
    for frames in (150, 40):  # 40 < 63 frames: zero-padded to the minimum in the graph
        spectrogram = rng.gamma(2.0, 1000.0, (2, 257, frames)).astype("float32")
        got = loaded.signatures["spectrogram"](spectrogram=tf.constant(spectrogram))
        padded = np.pad(spectrogram, ((0, 0), (0, 0), (0, max(63 - frames, 0))))
        logits = keras.ops.convert_to_numpy(student(padded))
        probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
        reference = {"logits": logits, "probabilities": probabilities}
        _assert_parity(reference, {k: v.numpy() for k, v in got.items()})


def test_saved_model_rejects_nan_samples_with_a_clear_error(exported):
    loaded = tf.saved_model.load(str(exported["out"] / "1"))
    waveform = _speech(1.0, seed=1)
    waveform[0, 100] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        loaded.signatures["serving_default"](waveform=tf.constant(waveform))


def test_saved_model_cli_show_lists_the_signatures(exported):
    text = (exported["out"] / export.SAVED_MODEL_CLI_TEXT).read_text()
    for expected in (
        "signature_def['serving_default']",
        "inputs['waveform'] tensor_info",
        "shape: (-1, -1)",
        "outputs['probabilities'] tensor_info",
        "outputs['embedding'] tensor_info",
        "signature_def['spectrogram']",
        "shape: (-1, 257, -1)",
        "signature_def['waveforms_with_lengths']",
        "inputs['length'] tensor_info",
    ):
        assert expected in text


# ---------------------------------------------------------------------------------------------
# TFLite, run by LiteRT's Interpreter.


def _litert_outputs(path, clips):
    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    length = np.array([clips.shape[1]], np.int32)
    outputs = [runner(waveform=clip[None, :], length=length) for clip in clips]
    names = ("logits", "probabilities", "embedding")
    return {k: np.concatenate([o[k] for o in outputs]) for k in names}


@pytest.fixture(scope="module")
def held_out(exported):
    clips = export.speech_like_clips(6, export.WINDOW_SAMPLES, seed=7000)
    return clips, export.keras_reference(exported["model"], clips)


def test_tflite_float32_parity_through_litert(exported, held_out):
    clips, reference = held_out
    _assert_parity(reference, _litert_outputs(exported["out"] / "kerasemo_float32.tflite", clips))
    figures = exported["card"]["parity"]["tflite_float32"]
    assert figures["max_abs_probability"] <= TOLERANCE and figures["max_rel_logit"] <= TOLERANCE


@pytest.mark.parametrize("variant, bound", [("float16", 1e-2), ("int8", 0.1)])
def test_quantized_tflite_is_close_and_reported(exported, held_out, variant, bound):
    clips, reference = held_out
    got = _litert_outputs(exported["out"] / f"kerasemo_{variant}.tflite", clips)
    figures = export.compare_outputs(reference, got)
    assert figures["max_abs_probability"] <= bound
    reported = exported["card"]["parity"][f"tflite_{variant}"]
    assert reported["clips"] == 8
    assert 0 <= reported["max_abs_probability"] <= bound
    assert 0 <= reported["argmax_agreement"] <= 1


def test_tflite_models_use_builtin_ops_only_and_shrink(exported):
    sizes = {}
    for variant in export.TFLITE_VARIANTS:
        path = exported["out"] / export.tflite_filename(variant)
        ops = export.tflite_ops(path.read_bytes())
        assert "RFFT2D" in ops and "CONV_2D" in ops
        assert not [op for op in ops if op.startswith("Flex") or not op.isupper()], ops
        interpreter = Interpreter(model_path=str(path))  # no Flex delegate available or needed
        interpreter.allocate_tensors()
        details = interpreter.get_signature_runner("serving_default").get_input_details()
        assert list(details["waveform"]["shape"]) == [1, export.WINDOW_SAMPLES]
        assert list(details["length"]["shape"]) == [1] and details["length"]["dtype"] == np.int32
        sizes[variant] = path.stat().st_size
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]


def test_concrete_function_pitfall_is_avoided(exported):
    """The converter reads a SavedModel, so no variable-reading ops survive in the flatbuffer."""
    ops = export.tflite_ops((exported["out"] / "kerasemo_float32.tflite").read_bytes())
    assert "VAR_HANDLE" not in ops and "READ_VARIABLE" not in ops


# ---------------------------------------------------------------------------------------------
# Model card.


def test_model_card_describes_the_export(exported):
    card, out, student = exported["card"], exported["out"], exported["student"]
    assert card["classes"] == list(emotions.CLASSES)
    assert card["input"]["sample_rate"] == 16000
    assert card["input"]["window_samples"] == 64384
    assert card["input"]["timeline_hop_seconds"] == 2.0
    frontend = card["frontend"]
    assert frontend["preemphasis"] == 0.97 and frontend["dc_removal_alpha"] == 0.99
    assert frontend["frame_length"] == 400 and frontend["frame_step"] == 160
    assert frontend["fft_length"] == 512 and frontend["frontend_mirror"] is False
    assert frontend["mirrored_inside_student"] is True and frontend["network_bins"] == 512
    assert card["student"]["config"]["conv_filters"] == [8, 16, 16, 16, 16]
    assert card["student"]["parameters"] == student.count_params()
    for key, entry in card["files"].items():
        path = out / entry["path"]
        assert path.exists(), key
        if path.is_file() and key != "model_card":
            assert entry["bytes"] == path.stat().st_size
    assert set(card["files"]) >= {"saved_model", "tflite_float32", "tflite_float16", "tflite_int8"}
    assert card["parity"]["saved_model"]["overall"]["max_abs_probability"] <= TOLERANCE
    assert export.within_tolerance(card["parity"]["saved_model"]["lengths/padded_batch"])
    assert export.within_tolerance(card["parity"]["tflite_float32"]["padded_with_length"])
    assert set(card["signatures"]["waveforms_with_lengths"]["inputs"]) == {"waveform", "length"}
    assert "head" not in card
    assert card["training"]["preset"] == "demo"
    assert card["training"]["config"]["student"]["fc6_units"] == 256
    assert card["metrics"]["auc_vs_teacher"] == AUC
    assert card["source"]["student_file"] == "student.keras" and len(card["source"]["sha256"]) == 64
    assert card["kerasemo_version"]
    assert "identical to the logits" in card["outputs"]["embedding"]


# ---------------------------------------------------------------------------------------------
# Mixed precision.


@pytest.mark.slow
def test_mixed_precision_student_exports_as_float32(exported, tmp_path):
    """A student built under mixed_float16 (with the trained weights) exports as float32."""
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = VGGMStudent(**SMALL)
    finally:
        keras.config.set_dtype_policy("float32")
    mixed.set_weights(exported["student"].get_weights())
    assert export.uses_mixed_precision(mixed)
    report = export.export_student(
        mixed, tmp_path / "mixed", variants=["float32"], holdout_clips=3, describe=False
    )
    assert report.converted_to_float32
    assert report.card["student"]["trained_precision"] == "mixed_float16"
    assert report.card["student"]["exported_precision"] == "float32"
    assert not report.failures()

    rebuilt = export.to_float32(mixed)
    assert not export.uses_mixed_precision(rebuilt)
    for a, b in zip(mixed.get_weights(), rebuilt.get_weights()):
        np.testing.assert_array_equal(np.asarray(a, np.float32), b)
    for key in ("saved_model", "tflite_float32"):  # measured by export_student via LiteRT
        figures = report.parity[key].get("overall", report.parity[key])
        assert figures["max_abs_probability"] <= TOLERANCE and figures["max_rel_logit"] <= TOLERANCE
    clips = export.speech_like_clips(2, export.WINDOW_SAMPLES, seed=9000)
    reference = export.keras_reference(rebuilt, clips)
    # The float16 original agrees to float16 precision: the weights really were copied.
    original = keras.ops.convert_to_numpy(mixed(export.frontend_for(mixed)(clips)))
    assert _relative_logit_error(reference["logits"], original) < 0.05


def test_student_saved_under_mixed_precision_loads_and_rebuilds(tmp_path):
    """A .keras loaded under a global mixed_float16 policy comes back mixed; export fixes it."""
    student = VGGMStudent(**SMALL)
    student.save(tmp_path / "student.keras")
    keras.config.set_dtype_policy("mixed_float16")
    try:
        loaded = export.load_student(tmp_path / "student.keras")
        assert export.uses_mixed_precision(loaded)
        rebuilt = export.to_float32(loaded)
    finally:
        keras.config.set_dtype_policy("float32")
    assert not export.uses_mixed_precision(rebuilt)
    assert rebuilt.get_config()["dtype"] == "float32"


# ---------------------------------------------------------------------------------------------
# Bad input to the export door.


def test_export_cli_reports_a_missing_student(tmp_path):
    with pytest.raises(SystemExit, match="nope.keras not found; the main job .* writes it at"):
        export_cli.main(["--student", str(tmp_path / "nope.keras"), "--out", str(tmp_path / "o")])


def test_export_cli_defaults_to_the_main_jobs_student(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"runs/demo/distill/student.keras not found"):
        export_cli.main([])


def test_export_cli_rejects_a_model_that_is_not_a_student(tmp_path):
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(tmp_path / "other.keras")
    with pytest.raises(SystemExit, match="not a VGGMStudent"):
        export_cli.main(["--student", str(tmp_path / "other.keras"), "--out", str(tmp_path / "o")])
    (tmp_path / "junk.keras").write_text("not a zip")
    with pytest.raises(SystemExit, match="not a .keras archive: it is not a zip file"):
        export_cli.main(["--student", str(tmp_path / "junk.keras"), "--out", str(tmp_path / "o")])


def test_export_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "o" / "1").mkdir(parents=True)
    (tmp_path / "o" / "1" / "notes.txt").write_text("mine")
    with pytest.raises(export.ExportError, match="refusing to overwrite"):
        export.export_saved_model(VGGMStudent(**SMALL), tmp_path / "o" / "1")


def test_export_cli_rejects_unknown_variants(capsys):
    with pytest.raises(SystemExit):
        export_cli.main(["--variants", "float64"])
    assert "unknown TFLite variant" in capsys.readouterr().err


def test_export_help(capsys):
    with pytest.raises(SystemExit) as info:
        export_cli.main(["--help"])
    assert info.value.code == 0
    assert "usage: python -m kerasemo.experiments.export" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# The window comes from the student.


def test_student_built_for_300_frame_crops_exports_a_300_frame_window(tmp_path):
    from kerasemo.inference import EmotionRecognizer

    keras.utils.set_random_seed(3)
    student = VGGMStudent(**SMALL, input_frames=300)
    report = export.export_student(
        student, tmp_path / "w300", variants=["float32"], holdout_clips=2, describe=False
    )
    window = report.card["input"]
    assert (window["window_samples"], window["window_frames"]) == (48_384, 300)
    assert window["window_source"] == "student input_frames"
    assert not report.failures()
    interpreter = Interpreter(model_path=str(report.files["tflite_float32"]))
    details = interpreter.get_signature_runner("serving_default").get_input_details()
    assert list(details["waveform"]["shape"]) == [1, 48_384]
    assert report.parity["tflite_float32"]["padded_with_length"]["clips"] == 3
    # The SavedModel stays variable-length and records the window for the recogniser.
    saved = EmotionRecognizer.from_path(tmp_path / "w300")
    assert saved.window_samples is None and saved.default_window_samples == 48_384
    assert EmotionRecognizer.from_path(report.files["tflite_float32"]).window_samples == 48_384
    timeline = saved.timeline(_speech(6.0, seed=5)[0])
    assert timeline.window_s == pytest.approx(3.024)


def test_model_window_reads_the_run_config_else_the_paper(tmp_path):
    plain = VGGMStudent(**SMALL)
    assert export.model_window(plain).samples == export.WINDOW_SAMPLES == 64_384
    config_lib.save_config(config_lib.load_config("demo"), tmp_path)
    run_config = export.read_run_config(tmp_path)
    frames = run_config["frontend"]["crop_frames"]
    window = export.model_window(plain, run_config)
    assert window.frames == frames and window.samples == 160 * frames + 384
    with pytest.raises(ValueError, match="at least 63"):
        export.model_window(plain, {"frontend": {"crop_frames": 40}})
