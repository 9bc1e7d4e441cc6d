"""The embedded default's final evaluation against the synthetic ground truth, and the whole job."""

import json

import numpy as np
import pandas as pd
import pytest

from kerasemo.emotions import CLASSES
from kerasemo import demo


def _corpus(tmp_path):
    rows = [
        # identity, video, track, start, end, face emotion
        ("id1", "v", "00001", 0.0, 2.0, "neutral"),
        ("id1", "v", "00001", 2.0, 3.0, "anger"),
        ("id1", "v", "00001", 3.0, 5.5, "happiness"),  # longest episode -> happiness
        ("id1", "v", "00002", 0.0, 4.0, "neutral"),  # no episode -> neutral
        ("id2", "w", "00001", 0.0, 1.0, "sadness"),
        ("id2", "w", "00002", 0.0, 1.0, "neutral"),
    ]
    frame = pd.DataFrame(rows, columns=["identity", "video", "track", "start", "end", "face_emotion"])
    frame["voice_emotion"] = frame["face_emotion"]
    (tmp_path / "ground_truth").mkdir()
    frame.to_csv(tmp_path / "ground_truth" / "tracks.csv", index=False)
    return tmp_path


def _reject_constant(name):
    raise ValueError(f"results.json holds {name}, which is not valid JSON")


def test_recovery_compares_student_and_teacher_on_the_same_tracks(tmp_path):
    corpus = _corpus(tmp_path)
    ids = np.array(["id1/v/00001", "id1/v/00002", "id2/w/00001", "id2/w/00002", "unknown/x/1"])
    truth = ["happiness", "neutral", "sadness", "neutral", "neutral"]
    teacher = np.eye(8)[[CLASSES.index(t) for t in truth]] * 5.0  # perfect teacher
    student = np.zeros((5, 8))
    student[:, CLASSES.index("neutral")] = 1.0  # a student that always says neutral
    np.savez(tmp_path / "logits.npz", track_id=ids, teacher=teacher, student=student)
    result = demo.ground_truth_recovery(corpus, tmp_path / "logits.npz")
    assert result["tracks"] == 4  # the track without ground truth is left out
    assert result["teacher"]["accuracy"] == 1.0 and result["teacher"]["mean_auc"] == 1.0
    assert result["student"]["accuracy"] == 0.5 and result["majority_accuracy"] == 0.5
    assert result["student"]["mean_auc"] == pytest.approx(0.5)
    assert result["recovery"] == pytest.approx(0.0)


@pytest.mark.slow
def test_main_job_runs_every_stage_on_the_tiny_corpus(tmp_path):
    """Corpus -> teacher -> shards -> distillation -> probes -> ground truth, then a rerun skips."""
    from kerasemo.config import apply_overrides, load_config

    overrides = [
        "teacher.epochs_per_rate=1",
        "student.conv_filters=[8, 16, 16, 16, 16]",
        "student.fc6_units=32",
        "student.fc7_units=16",
        "distill.batch_size=4",
        "distill.epochs=1",
        "evaluation.probe_folds=2",
    ]
    experiment = apply_overrides(load_config("demo"), overrides)
    kwargs = dict(
        corpus=tmp_path / "corpus",
        work=tmp_path / "work",
        shards=tmp_path / "shards",
        corpus_preset="tiny",
    )
    table = demo.run_demo(experiment, **kwargs, verbose=2)
    for needle in ("PrivateTest accuracy", "mean ROC AUC, unheard", "probe rml", "probe cremad", "ground truth"):
        assert needle in table
    work = tmp_path / "work"
    assert (work / "results.md").read_text() == table
    results = json.loads((work / "results.json").read_text(), parse_constant=_reject_constant)
    assert results["verdict"]["transfer"] in ("yes", "partly", "no")
    assert (work / "learning_curve.png").stat().st_size > 1000
    # Where the other stages look for the main job's models by default (probe --student, ...).
    for written in (demo.DEFAULT_STUDENT, demo.DEFAULT_TEACHER):
        assert (work / written.relative_to(demo.DEFAULT_WORK)).is_file(), written
    assert (work / "probe" / "rml" / "confusion.png").exists()
    stamp = (work / "distill" / "student.keras").stat().st_mtime
    demo.run_demo(experiment, **kwargs)  # every stage's output exists: nothing is retrained
    assert (work / "distill" / "student.keras").stat().st_mtime == stamp

    # The diagnosis runs on the main job's corpus and shards: oracle and one setting.
    from kerasemo.evaluation.diagnosis import diagnose_transfer

    report = diagnose_transfer(
        experiment, tmp_path / "corpus", tmp_path / "shards", tmp_path / "diagnosis",
        variants={"demo": []}, every=1,
    )
    assert set(report["runs"]) == {"oracle", "demo"}
    assert report["runs"]["oracle"]["final"]["steps"] > 0
    assert set(report["runs"]["demo"]["final"]["probe"]) == {"rml", "cremad"}
    assert 0.0 <= report["targets"]["face"]["mean_auc"] <= 1.0
    json.loads((tmp_path / "diagnosis" / "diagnosis.json").read_text(), parse_constant=_reject_constant)
    assert (tmp_path / "diagnosis" / "learning_curves.png").stat().st_size > 1000
    assert "Oracle ceiling" in (tmp_path / "diagnosis" / "diagnosis.md").read_text()


def test_build_stage_explains_what_it_needs(tmp_path):
    from kerasemo.config import load_config
    from kerasemo.data.build_stage import build_from_config

    experiment = load_config("demo")
    with pytest.raises(ValueError, match="exactly one of teacher .* and logits"):
        build_from_config(experiment, tmp_path, tmp_path / "out", layout="voxceleb1")
    with pytest.raises(ValueError, match="layout must be one of"):
        build_from_config(experiment, tmp_path, tmp_path / "out", layout="vox", teacher="t.keras")
    with pytest.raises(FileNotFoundError, match="root .* does not exist"):
        build_from_config(experiment, tmp_path / "none", tmp_path / "out", layout="voxceleb1", teacher="t.keras")


def test_main_job_probes_the_configured_protocol_first():
    from kerasemo.config import apply_overrides, load_config

    assert demo.probe_protocols(load_config("demo")) == ("random10", "speaker")
    speaker = apply_overrides(load_config("demo"), ["evaluation.probe_protocol=speaker"])
    assert demo.probe_protocols(speaker) == ("speaker", "random10")
