"""Fault injection: every bad input or fault a user can meet gives a clear error or a warning.

Each case writes one bad file (or makes one fault) in a temporary folder, runs the library call a
user would, and checks the exception type and the words of its message. The README's
"Guarantees" section lists what these cases hold.
"""

import json
import shutil
import zipfile

import keras
import numpy as np
import pytest
import soundfile as sf

from kerasemo.audio.decode import AudioDecodeError, load_audio, stream_audio
from kerasemo.config import ConfigError, apply_overrides, load_config
from kerasemo.models.loading import ModelFileError, load_keras_model

RATE = 16_000


def _speech(seconds=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Audio files.


def _nan_wav(tmp_path):
    samples = _speech()
    samples[100:105] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, samples, RATE, subtype="FLOAT")
    return path


def _inf_wav(tmp_path):
    samples = _speech()
    samples[7] = np.inf
    path = tmp_path / "inf.wav"
    sf.write(path, samples, RATE, subtype="FLOAT")
    return path


def _text_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all\n" * 20)
    return path


def _empty_wav(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), RATE)
    return path


def _missing(tmp_path):
    return tmp_path / "nowhere.wav"


AUDIO_ERRORS = [
    ("nan samples", _nan_wav, AudioDecodeError, r"5 NaN or Inf sample"),
    ("inf sample", _inf_wav, AudioDecodeError, r"1 NaN or Inf sample"),
    ("text named .wav", _text_wav, AudioDecodeError, r"notes\.wav"),
    ("zero-length wav", _empty_wav, AudioDecodeError, r"empty\.wav"),
    ("missing file", _missing, FileNotFoundError, r"nowhere\.wav"),
]


@pytest.mark.parametrize("reader", ["load_audio", "stream_audio"])
@pytest.mark.parametrize("case, make, error, words", AUDIO_ERRORS, ids=[c[0] for c in AUDIO_ERRORS])
def test_bad_audio_is_an_error_on_every_decode_path(tmp_path, reader, case, make, error, words):
    path = make(tmp_path)
    with pytest.raises(error, match=words):
        if reader == "load_audio":
            load_audio(path)
        else:
            list(stream_audio(path))


def test_truncated_wav_warns_with_both_durations_and_strict_raises(tmp_path, caplog):
    good = tmp_path / "good.wav"
    sf.write(good, _speech(3.0), RATE, subtype="PCM_16")
    half = tmp_path / "half.wav"
    half.write_bytes(good.read_bytes()[:48_022])  # header + 1.5 s of the 3 s
    for read in (load_audio, lambda p, **kw: np.concatenate(list(stream_audio(p, **kw)))):
        caplog.clear()
        with caplog.at_level("WARNING", logger="kerasemo.audio.decode"):
            samples = read(half)
        assert "decoded to 1.499 s" in caplog.text and "header declares 3.000 s" in caplog.text
        assert len(samples) == (48_022 - 44) // 2  # every whole sample after the 44-byte header
        with pytest.raises(AudioDecodeError, match="truncated|declares"):
            read(half, strict=True)


# ---------------------------------------------------------------------------------------------
# Model files.


@pytest.fixture(scope="module")
def saved_student(tmp_path_factory):
    from kerasemo.models import VGGMStudent

    student = VGGMStudent(conv_filters=(4, 8, 8, 8, 8), fc6_units=8, fc7_units=8)
    student(np.zeros((1, 512, 70), np.float32))
    path = tmp_path_factory.mktemp("model") / "student.keras"
    student.save(path)
    return path


def _rewrite_config(source, target, change):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            new.writestr(item, data)
    return target


def _not_a_zip(tmp_path, student):
    path = tmp_path / "student.keras"
    path.write_text("this is not a model")
    return path


def _bad_crc(tmp_path, student):
    path = tmp_path / "student.keras"
    data = bytearray(student.read_bytes())
    with zipfile.ZipFile(student) as archive:
        info = archive.getinfo("model.weights.h5")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle : middle + 16] = bytes(255 - b for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))
    return path


def _no_config(tmp_path, student):
    path = tmp_path / "student.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
    return path


def _unknown_class(tmp_path, student):
    def change(config):
        config["class_name"] = "NotAKerasemoModel"
        config["registered_name"] = "elsewhere>NotAKerasemoModel"
        config["module"] = "elsewhere"

    return _rewrite_config(student, tmp_path / "student.keras", change)


def _odd_dtype(tmp_path, student):
    def change(config):
        config["config"]["dtype"] = {"module": "keras", "class_name": "NoSuchPolicy", "config": 3}

    return _rewrite_config(student, tmp_path / "student.keras", change)


def _lambda_model(tmp_path, student):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    return path


def _wrong_suffix(tmp_path, student):
    path = tmp_path / "student.h5"
    shutil.copy(student, path)
    return path


MODEL_ERRORS = [
    ("not a zip", _not_a_zip, ModelFileError, r"not a zip file"),
    ("bad CRC", _bad_crc, ModelFileError, r"model\.weights\.h5.*CRC"),
    ("zip without config", _no_config, ModelFileError, r"without config\.json"),
    ("unknown class", _unknown_class, ModelFileError, r"class kerasemo does not know.*NotAKerasemoModel"),
    ("odd dtype object", _odd_dtype, ModelFileError, r"could not be loaded as a kerasemo model"),
    ("lambda layer", _lambda_model, ModelFileError, r"refused in safe mode"),
    ("wrong suffix", _wrong_suffix, ModelFileError, r"expected the \.keras suffix"),
    ("missing", lambda tmp_path, student: tmp_path / "none.keras", FileNotFoundError, "none.keras"),
]


@pytest.mark.parametrize("case, make, error, words", MODEL_ERRORS, ids=[c[0] for c in MODEL_ERRORS])
def test_bad_model_files_say_what_is_wrong(tmp_path, saved_student, case, make, error, words):
    path = make(tmp_path, saved_student)
    with pytest.raises(error, match=words):
        load_keras_model(path)


def test_the_student_itself_loads(saved_student):
    from kerasemo.models import VGGMStudent

    assert isinstance(load_keras_model(saved_student, expected=VGGMStudent), VGGMStudent)
    with pytest.raises(ModelFileError, match="not a SEResNetTeacher"):
        from kerasemo.models import SEResNetTeacher

        load_keras_model(saved_student, expected=SEResNetTeacher, what="teacher")


@pytest.mark.parametrize("entry", ["predict", "probe", "export"])
def test_entry_points_print_one_line_for_a_corrupt_model(tmp_path, saved_student, capsys, entry):
    import importlib

    bad = _bad_crc(tmp_path, saved_student)
    clip = tmp_path / "clip.wav"
    sf.write(clip, _speech(2.0), RATE)
    argv = {
        "predict": [str(clip), "--model", str(bad)],
        "probe": ["--dataset", "csv", "--root", str(tmp_path / "labels.csv"), "--student", str(bad),
                  "--out", str(tmp_path / "probe")],
        "export": ["--student", str(bad), "--out", str(tmp_path / "export")],
    }[entry]
    (tmp_path / "labels.csv").write_text(f"path,label,speaker\n{clip},anger,s1\n{clip},happiness,s2\n")
    module = importlib.import_module(f"kerasemo.experiments.{entry}")
    with pytest.raises(SystemExit) as exit_info:
        module.main(argv)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "CRC" in message, message
    assert "\n" not in message.strip()
    assert "Traceback" not in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Configuration.

CONFIG_ERRORS = [
    ("unknown key", ["student.no_such_key=1"], r"no_such_key"),
    ("wrong type", ["distill.epochs=many"], r"distill\.epochs"),
    ("crop below the network minimum", ["frontend.crop_frames=62"], r"crop_frames must be >= 63"),
    ("unknown section", ["nowhere.x=1"], r"nowhere"),
]


@pytest.mark.parametrize("case, overrides, words", CONFIG_ERRORS, ids=[c[0] for c in CONFIG_ERRORS])
def test_bad_settings_name_the_key(case, overrides, words):
    with pytest.raises(ConfigError, match=words):
        apply_overrides(load_config("demo"), overrides)


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[student\nfc6_units = 3\n")
    with pytest.raises(ConfigError, match="mine.toml"):
        load_config(path)
