"""Scoring transfer against the synthetic ground truth: truth, oracle shards, verdict, curves."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kerasemo.data import pipeline, schema
from kerasemo.emotions import CLASSES
from kerasemo.evaluation import transfer
from shard_fixtures import TINY_DISTILL, write_distill_splits


def _corpus(tmp_path):
    rows = [
        # identity, video, track, start, end, face emotion, voice emotion
        ("id1", "v", "00001", 0.0, 2.0, "neutral", "neutral"),
        ("id1", "v", "00001", 2.0, 3.0, "anger", "anger"),
        ("id1", "v", "00001", 3.0, 5.5, "happiness", "sadness"),  # longest; the voice disagrees
        ("id1", "v", "00002", 0.0, 4.0, "neutral", "neutral"),  # no episode -> neutral
        ("id2", "w", "00001", 0.0, 1.0, "sadness", "sadness"),
        ("id2", "w", "00002", 0.0, 1.0, "neutral", "neutral"),
    ]
    columns = ["identity", "video", "track", "start", "end", "face_emotion", "voice_emotion"]
    (tmp_path / "ground_truth").mkdir()
    pd.DataFrame(rows, columns=columns).to_csv(tmp_path / "ground_truth" / "tracks.csv", index=False)
    return tmp_path


def test_track_truth_is_the_longest_emotional_episode(tmp_path):
    corpus = _corpus(tmp_path)
    expected = {"id1/v/00001": "happiness", "id1/v/00002": "neutral", "id2/w/00001": "sadness", "id2/w/00002": "neutral"}
    assert transfer.track_truth(corpus) == expected
    assert transfer.track_truth(corpus, "voice")["id1/v/00001"] == "sadness"
    with pytest.raises(ValueError, match="modality must be"):
        transfer.track_truth(corpus, "lips")
    with pytest.raises(FileNotFoundError, match="make_synthetic"):
        transfer.track_truth(tmp_path / "elsewhere")


def test_ground_truth_scores_refuse_logits_of_another_corpus(tmp_path):
    truth = transfer.track_truth(_corpus(tmp_path))
    with pytest.raises(ValueError, match="do not belong together"):
        transfer.ground_truth_scores(truth, ["x/y/z"], np.zeros((1, 8)))


def test_oracle_shards_carry_the_voice_truth_and_nothing_else_changes(tmp_path):
    corpus = _corpus(tmp_path)
    shards = tmp_path / "shards"
    shards.mkdir()
    times = np.arange(0.0, 5.5, 0.24, dtype=np.float32)
    example = schema.make_example(
        identity="id1", video="v", track="00001", split="train",
        frame_logits=np.random.default_rng(0).standard_normal((len(times), 8)).astype(np.float32),
        frame_times=times, num_samples=16000, spectrogram=np.ones((98, 257), np.float32),
    )
    with tf.io.TFRecordWriter(str(shards / "train-00000-of-00001.tfrecord")) as writer:
        writer.write(example.SerializeToString())
    out = transfer.write_oracle_shards(shards, corpus, tmp_path / "oracle")
    (record,) = list(tf.data.TFRecordDataset(str(out / "train-00000-of-00001.tfrecord")))
    parsed = schema.parse_example(record)
    logits = parsed["logits"].numpy()
    voice = ["neutral" if t < 2.0 else "anger" if t < 3.0 else "sadness" for t in times]
    assert [CLASSES[i] for i in logits.argmax(axis=1)] == voice
    neutral = np.array(voice) == "neutral"
    assert np.allclose(logits.max(axis=1), np.where(neutral, transfer.ORACLE_LOGIT / 2, transfer.ORACLE_LOGIT))
    np.testing.assert_array_equal(parsed["spectrogram"].numpy(), np.ones((98, 257), np.float32))
    assert (out / "ORACLE_COMPLETE").exists()


def test_verdict_compares_with_chance_and_the_acoustic_baseline():
    def probe(student):
        return {"rml": {"chance": {"speaker": (1 / 6, None)}, "acoustic": {"speaker": (0.6, 0.1)},
                        "teacher": {"speaker": (0.9, 0.05)}, "student": {"speaker": (student, 0.1)}}}

    assert transfer.transfer_verdict(probe(0.5))["transfer"] == "yes"
    assert transfer.transfer_verdict(probe(0.3))["transfer"] == "partly"
    verdict = transfer.transfer_verdict(probe(0.18))
    assert verdict["transfer"] == "no" and "chance" in verdict["sentences"][0]
    # The paper's own standing on RML (Table 5): 0.68 of the acoustic gain, 0.59 of the teacher's.
    assert verdict["paper"]["share_of_acoustic"] == pytest.approx(0.679, abs=1e-3)
    assert verdict["paper"]["share_of_teacher"] == pytest.approx(0.590, abs=1e-3)
    sets = transfer.transfer_verdict(probe(0.5))["sets"]["rml"]
    assert sets["share_of_acoustic"] == pytest.approx((0.5 - 1 / 6) / (0.6 - 1 / 6))


def test_training_curve_is_drawn_from_the_history(tmp_path):
    history = pd.DataFrame({"epoch": [0, 1, 2], "distillation_loss": [2.0, 1.8, 1.7],
                            "val_distillation_loss": [2.1, 1.9, 1.9], "teacher_agreement": [0.3, 0.4, 0.5],
                            "val_teacher_agreement": [0.3, 0.3, 0.4]})
    history.to_csv(tmp_path / "history.csv", index=False)
    figure = transfer.plot_training_curve(tmp_path / "history.csv", tmp_path / "curve.png", steps_per_epoch=5)
    assert (tmp_path / "curve.png").stat().st_size > 1000
    (loss_line, _) = figure.axes[0].lines
    assert list(loss_line.get_xdata()) == [5, 10, 15]


def test_validation_tracks_are_not_padded_to_their_neighbours(tmp_path):
    shards = write_distill_splits(tmp_path / "shards")
    files = pipeline.shard_files(shards, "unheard_val")
    lengths = [int(s.shape[2]) for s, _ in pipeline.validation_dataset(files)]
    assert lengths == [150 + 40 * i for i in range(6)]  # one track per batch, its own length
    padded = [int(s.shape[2]) for s, _ in pipeline.validation_dataset(files, pad_batches=True)]
    assert max(padded) == 350 and len(padded) < 6  # the old bucketed batches are still available


def test_validation_crops_are_fixed_centred_and_of_one_shape(tmp_path):
    shards = write_distill_splits(tmp_path / "shards")
    files = pipeline.shard_files(shards, "unheard_val")
    batches = list(pipeline.validation_crops(files, batch_size=4, crop_frames=100))
    assert [tuple(s.shape) for s, _ in batches] == [(4, 257, 100), (2, 257, 100)]
    first = batches[0][0].numpy()[0, 0]  # bin 0 holds frame index + 1; track 0 has 150 frames
    assert first[0] == 1 + (150 - 100) // 2 and first[-1] == first[0] + 99
    again = list(pipeline.validation_crops(files, batch_size=4, crop_frames=100))
    np.testing.assert_array_equal(again[1][1].numpy(), batches[1][1].numpy())


@pytest.mark.slow
def test_deterministic_distillation_gives_the_same_student_twice(tmp_path):
    """Two fresh processes, same command: bit-identical weights (distill.deterministic, with
    oneDNN's threaded kernels off as the config documents)."""
    shards = write_distill_splits(tmp_path / "shards")
    fingerprints = []
    for run in ("a", "b"):
        args = [sys.executable, "-m", "kerasemo.experiments.distill", "--data", str(shards),
                "--out", str(tmp_path / run), "--config", "demo"]
        for item in TINY_DISTILL + ["distill.epochs=2", "distill.deterministic=true"]:
            args += ["--set", item]
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}
        completed = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
        assert completed.returncode == 0, completed.stderr[-2000:]
        fingerprints.append(completed.stdout.split("final weights sha256 ")[1].split()[0])
        auc = json.loads((tmp_path / run / "auc.json").read_text())
        fingerprints.append(auc["unheard_val"]["mean"])
    assert fingerprints[0] == fingerprints[2] and fingerprints[1] == fingerprints[3]


def test_learning_curves_plot_every_setting_and_probe(tmp_path):
    points = [{"epoch": e, "steps": 10 * e, "auc": 0.5 + 0.05 * e, "accuracy": 0.3,
               "probe": {"rml": 0.2 + 0.05 * e, "cremad": 0.25}} for e in (1, 2, 3)]
    figure = transfer.plot_learning_curves({"oracle": points, "demo": points}, tmp_path / "c.png", teacher_auc=0.9)
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert len(figure.axes) == 3  # ground truth + one panel per probe set
    assert [line.get_label() for line in figure.axes[0].lines][:2] == ["oracle", "demo"]


def test_diagnose_transfer_cli_explains_what_it_needs(tmp_path, capsys):
    from kerasemo.experiments import diagnose_transfer

    with pytest.raises(SystemExit, match="run `python -m kerasemo.experiments.distill` first"):
        diagnose_transfer.main(["--corpus", str(tmp_path / "none"), "--shards", str(tmp_path)])
    with pytest.raises(SystemExit):
        diagnose_transfer.main(["--variant", "=student.log_magnitude=true"])
    assert "expected NAME=OVERRIDE" in capsys.readouterr().err
    assert diagnose_transfer._variant("lin=student.log_magnitude=false,distill.epochs=2") == (
        "lin", ["student.log_magnitude=false", "distill.epochs=2"])
