"""Batch prediction: files, folders and manifests in, one row per file out (CSV, Parquet, JSON),
clips of different lengths batched without changing their answers, unreadable files skipped and
reported.

The small student and its export come from `test_predict`'s module fixture.
"""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest
import soundfile

from kerasemo import emotions
from kerasemo.audio.signals import speech_like_signal
from kerasemo.experiments import predict as predict_cli
from kerasemo.inference import EmotionRecognizer, collect_inputs, predict_files
from test_predict import SR, _write_aac, models  # noqa: F401 - fixture

LENGTHS_S = (0.5, 1.3, 2.2, 3.7, 12.0)
COLUMNS = ["file", "duration_s", *emotions.CLASSES, "dominant"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Files of different lengths, one longer than a TFLite window and several per folder."""
    root = tmp_path_factory.mktemp("clips")
    paths = []
    for index, seconds in enumerate(LENGTHS_S):
        path = root / ("deep/er" if index % 2 else "") / f"clip{index}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, speech_like_signal(seconds, seed=100 + index), SR)
        paths.append(path)
    return root, paths


def _run(argv):
    return predict_cli.main([str(a) for a in argv])


@pytest.mark.parametrize("route", ["keras", "saved_model", "tflite"])
def test_a_batch_of_different_lengths_matches_one_by_one(
    models, clips, tmp_path, route  # noqa: F811
):
    _, paths = clips
    together, alone = tmp_path / "together.parquet", tmp_path / "alone.parquet"
    assert _run([*paths, "--model", models[route], "--out", together]) == 0
    assert _run([*paths, "--model", models[route], "--out", alone, "--batch-size", 1]) == 0
    a, b = pd.read_parquet(together), pd.read_parquet(alone)
    assert a.columns.tolist() == COLUMNS and a.file.tolist() == [str(p) for p in paths]
    np.testing.assert_allclose(a[list(emotions.CLASSES)], b[list(emotions.CLASSES)], atol=1e-5)
    np.testing.assert_allclose(a.duration_s, LENGTHS_S)
    recognizer = EmotionRecognizer.from_path(models[route])
    for path, row in zip(paths, a.itertuples(index=False)):
        expected = recognizer.predict(path)
        np.testing.assert_allclose(row[2:10], expected.probabilities, atol=1e-5, err_msg=str(path))
        assert row.dominant == expected.dominant


def test_folders_are_searched_recursively_by_extension(models, clips, tmp_path):  # noqa: F811
    root, paths = clips
    video = _write_aac(root / "deep" / "Talk.MP4", speech_like_signal(2.0, 48000, seed=9), 48000,
                       True)
    (root / "deep" / "notes.txt").write_text("not audio")
    try:
        table = collect_inputs([root])
        assert table.file.tolist() == sorted(str(p) for p in [*paths, video])
        out = tmp_path / "r.csv"
        assert _run([root, "--model", models["keras"], "--out", out]) == 0
        assert pd.read_csv(out).file.tolist() == table.file.tolist()
    finally:
        video.unlink()
        (root / "deep" / "notes.txt").unlink()


def test_a_manifest_resolves_relative_paths_and_carries_its_columns(
    models, clips, tmp_path  # noqa: F811
):
    root, paths = clips
    manifest = root / "deep" / "clips.csv"
    manifest.write_text(
        "speaker,path,label\n"
        f"s1,er/{paths[1].name},angry\n"
        f"s2,../{paths[0].name},calm\n"
        f"s3,{paths[4]},sad\n"
    )
    out, also = tmp_path / "m.parquet", tmp_path / "m.json"
    assert _run([manifest, "--model", models["keras"], "--out", out, "--out", also]) == 0
    table = pd.read_parquet(out)
    assert table.columns.tolist() == ["file", "speaker", "label", *COLUMNS[1:]]
    expected = [paths[1], paths[0], paths[4]]
    assert [pathlib.Path(f).resolve() for f in table.file] == [p.resolve() for p in expected]
    assert table.speaker.tolist() == ["s1", "s2", "s3"]
    assert table.label.tolist() == ["angry", "calm", "sad"]
    records = json.loads(also.read_text())
    assert [r["speaker"] for r in records] == ["s1", "s2", "s3"]
    np.testing.assert_allclose([r["neutral"] for r in records], table.neutral, atol=1e-7)


def test_unreadable_files_are_skipped_and_reported(models, clips, tmp_path, capsys):  # noqa: F811
    _, paths = clips
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(200))
    tiny = tmp_path / "tiny.wav"
    soundfile.write(tiny, np.zeros(400, np.float32), SR)
    missing = tmp_path / "missing.flac"
    out = tmp_path / "results.csv"
    argv = [paths[0], corrupt, missing, tiny, paths[2], "--model", models["keras"], "--out", out]
    assert _run(argv) == predict_cli.EXIT_SKIPPED
    assert pd.read_csv(out).file.tolist() == [str(paths[0]), str(paths[2])]
    report = json.loads((tmp_path / "results.skipped.json").read_text())
    assert report["skipped"] == 3
    assert report["reasons"] == {
        "cannot be decoded": [str(corrupt)],
        "cannot be scored": [str(tiny)],
        "file not found": [str(missing)],
    }
    assert "too short" in report["errors"][str(tiny)]
    err = capsys.readouterr().err
    assert "skipped 3 of 5 files" in err and "results.skipped.json" in err
    assert "%|" not in err  # no progress bar when standard error is not a terminal


def test_a_head_adds_its_columns(models, clips, tmp_path):  # noqa: F811
    from kerasemo.models.probe_head import save_probe_head

    _, paths = clips
    rng = np.random.default_rng(0)
    save_probe_head(rng.standard_normal((9, 8)), np.arange(9) % 3, ["a", "b", "c"],
                    tmp_path / "head")
    out = tmp_path / "h.parquet"
    assert _run([*paths[:2], "--model", models["saved_model"], "--head", tmp_path / "head",
                 "--out", out]) == 0
    table = pd.read_parquet(out)
    assert table.columns.tolist()[-4:] == ["head_a", "head_b", "head_c", "head_label"]
    np.testing.assert_allclose(table[["head_a", "head_b", "head_c"]].sum(axis=1), 1.0, atol=1e-5)
    assert set(table.head_label) <= {"a", "b", "c"}


def test_bad_manifests_are_refused(models, tmp_path):  # noqa: F811
    no_path = tmp_path / "no_path.csv"
    no_path.write_text("file_name,label\na.wav,calm\n")
    with pytest.raises(SystemExit, match="has no 'path' column"):
        _run([no_path, "--model", models["keras"]])
    clash = tmp_path / "clash.csv"
    clash.write_text("path,dominant\na.wav,calm\n")
    recognizer = EmotionRecognizer.from_path(models["keras"])
    with pytest.raises(ValueError, match=r"\['dominant'\] have the names of output columns"):
        predict_files(recognizer, collect_inputs([clash]))
    empty = tmp_path / "empty.csv"
    empty.write_text("path,label\na.wav,calm\n ,sad\n")
    with pytest.raises(ValueError, match="1 row.s. with an empty path .the first is data row 2"):
        collect_inputs([empty])


def test_a_long_file_that_fails_while_streamed_is_skipped_alone(
    models, clips, tmp_path  # noqa: F811
):
    _, paths = clips
    bad = speech_like_signal(6.0, seed=7)  # longer than the TFLite window: streamed
    bad[5 * SR] = np.nan
    streamed = tmp_path / "nan_late.wav"
    soundfile.write(streamed, bad, SR, subtype="FLOAT")
    recognizer = EmotionRecognizer.from_path(models["tflite"])
    result = predict_files(recognizer, collect_inputs([paths[1], streamed, paths[3]]))
    assert result.table.file.tolist() == [str(paths[1]), str(paths[3])]
    assert result.skipped.to_dict()["reasons"] == {"cannot be decoded": [str(streamed)]}
    assert "NaN or Inf" in result.skipped.messages[str(streamed)]


def test_each_file_is_read_once(models, tmp_path, caplog):  # noqa: F811
    # A clip shorter than the student's minimum is read (and warned about) once, not again when
    # the batch is scored.
    short = tmp_path / "short.wav"
    soundfile.write(short, speech_like_signal(0.3, seed=7), SR)
    recognizer = EmotionRecognizer.from_path(models["keras"])
    with caplog.at_level("WARNING", logger="kerasemo.inference"):
        result = predict_files(recognizer, collect_inputs([short]))
    assert len(result.table) == 1
    assert sum("shorter than the student's minimum" in r.message for r in caplog.records) == 1
