"""Linear probe, cross-validation protocols, embedding cache, baselines and the probe entry point."""

import json
import os

import numpy as np
import pytest
from test_acted_readers import write_av, write_wav

from kerasemo.evaluation import probing
from kerasemo.models.probe import LinearProbe, Standardize, fit_multinomial_logistic

CREMAD_EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def _gaussian_classes(n=600, d=8, k=6, seed=0):
    """Overlapping Gaussian classes with features on very different scales."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=0.9, size=(k, d))
    y = np.repeat(np.arange(k), n // k)
    x = centres[y] + rng.normal(size=(n, d))
    x = x * np.array([1.0, 10.0, 0.1, 3.0, 1.0, 50.0, 1.0, 0.5])[:d] + 5.0
    return x.astype(np.float32), y


# --------------------------------------------------------------------------------------------
# LinearProbe.


def test_probe_agrees_with_sklearn_on_the_same_folds():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _gaussian_classes()
    plan = probing.random_folds(len(y), folds=10, seed=0)
    ours = probing.cross_validate(x, y, plan, num_classes=6, classifier="linear")

    def sklearn_fit_predict(x_train, y_train, x_test):
        # C=inf is scikit-learn 1.8+'s spelling of penalty=None (unregularised, multinomial).
        model = make_pipeline(StandardScaler(), LogisticRegression(C=np.inf, max_iter=5000))
        return model.fit(x_train, y_train).predict(x_test)

    reference = probing.cross_validate(x, y, plan, num_classes=6, classifier=sklearn_fit_predict)
    assert 0.4 < reference.mean < 0.95  # a non-trivial problem
    assert abs(ours.mean - reference.mean) <= 0.01
    # Same estimator: the per-clip predictions agree almost everywhere.
    assert np.mean(ours.predictions == reference.predictions) > 0.97


def test_newton_reaches_the_maximum_likelihood():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    x, y = _gaussian_classes(n=300, seed=1)
    z = (x - x.mean(0)) / x.std(0)
    kernel, bias, losses = fit_multinomial_logistic(z, y, 6)
    assert np.all(np.diff(losses) <= 1e-12)  # monotone
    reference = LogisticRegression(C=np.inf, max_iter=5000, tol=1e-10).fit(z, y)
    assert losses[-1] <= log_loss(y, reference.predict_proba(z)) + 1e-6


def test_probe_fits_tf_data_round_trips_and_handles_absent_classes(tmp_path):
    import keras
    import tensorflow as tf

    x, y = _gaussian_classes(n=240)
    from_arrays = LinearProbe(num_classes=6).fit(x, y)
    probe = LinearProbe(num_classes=7, class_names=list("abcdefg"))  # class 6 never seen
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(50)
    history = probe.fit(dataset)
    assert history.history["loss"][-1] == pytest.approx(from_arrays.history["loss"][-1], rel=1e-6)
    probabilities = probe.predict(x, verbose=0)
    assert probabilities.shape == (240, 7)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert probabilities[:, 6].max() < 1e-6 and (probe.predict_labels(x) != 6).all()
    # The standardisation statistics are model weights: raw inputs go in after loading.
    path = tmp_path / "probe.keras"
    probe.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, LinearProbe) and loaded.get_config() == probe.get_config()
    assert isinstance(loaded.standardizer, Standardize)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), probabilities, atol=1e-6)


def test_keras_solver_uses_the_ordinary_training_loop():
    x, y = _gaussian_classes(n=300)
    import keras

    probe = LinearProbe(num_classes=6, solver="keras", max_iter=40)
    probe.compile(optimizer=keras.optimizers.Adam(0.1), loss="sparse_categorical_crossentropy")
    history = probe.fit(x, y, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    exact = LinearProbe(num_classes=6)
    exact.fit(x, y)
    agreement = np.mean(probe.predict_labels(x) == exact.predict_labels(x))
    assert agreement > 0.85


def test_probe_validates_its_inputs():
    with pytest.raises(ValueError, match="num_classes"):
        LinearProbe(num_classes=1)
    with pytest.raises(ValueError, match="solver"):
        LinearProbe(num_classes=3, solver="lbfgs")
    probe = LinearProbe(num_classes=3)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        probe.fit(np.zeros((4, 2)), np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="different lengths"):
        probe.fit(np.zeros((4, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        probe.fit(np.full((2, 2), np.nan), np.array([0, 1]))


# --------------------------------------------------------------------------------------------
# Protocols.


def test_random_folds_follow_the_authors_scheme():
    plan = probing.random_folds(720, folds=10, seed=0)
    assert [len(t) for t in plan.test_folds] == [72] * 10
    everything = np.sort(np.concatenate(plan.test_folds))
    np.testing.assert_array_equal(everything, np.arange(720))
    again = probing.random_folds(720, folds=10, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(plan.test_folds, again.test_folds))
    other = probing.random_folds(720, folds=10, seed=1)
    assert not np.array_equal(plan.test_folds[0], other.test_folds[0])
    # MATLAB rounding of linspace(0, 25, 11): 0 3 5 8 10 13 15 18 20 23 25.
    assert [len(t) for t in probing.random_folds(25, folds=10).test_folds] == [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    with pytest.raises(ValueError, match="cannot be split"):
        probing.random_folds(5, folds=10)


def test_speaker_folds_never_share_a_speaker():
    rng = np.random.default_rng(0)
    speakers = [f"spk{i}" for i in rng.integers(0, 24, size=500)]
    plan = probing.speaker_folds(speakers, folds=10)
    assert plan.num_folds == 10
    speakers = np.asarray(speakers)
    for train, test in plan.splits(len(speakers)):
        assert not set(speakers[train]) & set(speakers[test])
    few = probing.speaker_folds(["a", "b", "b", "c"] * 3, folds=10)
    assert few.num_folds == 3 and "leave-one-speaker-out" in few.description
    with pytest.raises(ValueError, match="speaker"):
        probing.speaker_folds(["a", None, "b"], folds=2)
    with pytest.raises(ValueError, match="at least 2 speakers"):
        probing.speaker_folds(["a", "a"], folds=2)


def test_cross_validate_reports_mean_std_ddof1_and_pooled_confusion():
    x = np.r_[np.zeros((10, 1)), np.ones((10, 1))]
    y = np.r_[np.zeros(10), np.ones(10)].astype(int)
    plan = probing.random_folds(20, folds=5, seed=0)
    score = probing.cross_validate(x, y, plan, num_classes=2, classifier="majority")
    assert score.std == pytest.approx(np.std(score.fold_accuracies, ddof=1))
    assert score.confusion.sum() == 20 and score.num_folds == 5
    valid = np.arange(20) % 2 == 0
    partial = probing.cross_validate(x, y, plan, num_classes=2, valid=valid)
    assert partial.num_clips == 10 and (partial.predictions[~valid] == -1).all()


# --------------------------------------------------------------------------------------------
# Embeddings, cache, baselines, entry point.


@pytest.fixture(scope="module")
def tiny_student_path(tmp_path_factory):
    from kerasemo.models import VGGMStudent

    student = VGGMStudent(
        input_bins=257, mirror_input=True, conv_filters=(4, 8, 8, 8, 8), fc6_units=16, fc7_units=8
    )
    path = tmp_path_factory.mktemp("models") / "student.keras"
    student.save(path)
    return path


@pytest.fixture
def cremad_root(tmp_path):
    root = tmp_path / "CREMA-D"
    for actor in (1001, 1002, 1003, 1004):
        for index, emotion in enumerate(CREMAD_EMOTIONS):
            seconds = 0.8 + 0.1 * ((actor + index) % 3)
            write_wav(
                root / "AudioWAV" / f"{actor}_DFA_{emotion}_XX.wav",
                seconds=seconds,
                tone=150 + 60 * index,
                seed=actor * 10 + index,
            )
    return root


def test_exact_batching_equals_one_clip_at_a_time(tmp_path, tiny_student_path):
    from kerasemo.models.student import MIN_INPUT_FRAMES

    student = probing.load_model(tiny_student_path)
    paths = [
        str(write_wav(tmp_path / f"{i}.wav", seconds=s, seed=i))
        for i, s in enumerate([1.0, 1.0, 0.3, 1.2, 1.0])
    ]
    batched = probing.compute_student_embeddings(student, paths, durations=[1, 1, 0.3, 1.2, 1], progress=False)
    single = probing.compute_student_embeddings(student, paths, batch_frames=1, progress=False)
    assert batched.valid.all() and batched.features.shape == (5, 8)
    np.testing.assert_allclose(batched.features, single.features, atol=1e-4)
    assert MIN_INPUT_FRAMES == 63  # the 0.3 s clip (28 frames) was padded to run at all
    (tmp_path / "broken.wav").write_bytes(b"RIFF....")
    failed = probing.compute_student_embeddings(student, [str(tmp_path / "broken.wav")], progress=False)
    assert not failed.valid[0] and 0 in failed.errors


def test_egemaps_features_have_88_functionals(tmp_path):
    import importlib.util

    if importlib.util.find_spec("opensmile") is None:  # not importorskip: kerasemo must import it
        pytest.skip("opensmile is not installed (extra 'acoustic')")
    paths = [str(write_wav(tmp_path / f"{i}.wav", seconds=1.0, tone=200 + 50 * i, seed=i)) for i in range(3)]
    features = probing.compute_egemaps(paths, progress=False)
    assert features.features.shape == (3, 88) and features.valid.all()


def test_probe_entry_point_on_cremad_layout_with_cache(tmp_path, cremad_root, tiny_student_path, monkeypatch):
    from kerasemo.experiments import probe

    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = [
        "--dataset", "cremad", "--root", str(cremad_root), "--student", str(tiny_student_path),
        "--out", str(out), "--cache-dir", str(cache), "--quiet", "--forest-trees", "25",
    ]
    assert probe.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["num_clips"] == 24 and results["num_speakers"] == 4
    assert results["classes"] == ["neutral", "happiness", "sadness", "anger", "disgust", "fear"]
    assert results["protocols"] == ["random10", "speaker"]
    rows = {row["method"]: row for row in results["methods"]}
    assert rows["chance"]["chance"] == pytest.approx(1 / 6)
    student = rows["student"]["scores"]
    assert student["random10"]["num_folds"] == 10 and student["speaker"]["num_folds"] == 4
    assert len(student["random10"]["fold_accuracies"]) == 10
    assert rows["teacher"]["note"] == "no video in this set"
    assert rows["acoustic"]["scores"] or "not installed" in rows["acoustic"]["note"]
    markdown = (out / "results.md").read_text()
    assert "student logits (8-d) + linear probe" in markdown and "leave-one-speaker-out" in markdown
    assert (out / "confusion.png").stat().st_size > 5000
    assert (out / "config.toml").exists() and (out / "predictions.csv").exists()

    # Second run: everything comes from the cache, so the extractors must not run.
    def fail(*args, **kwargs):
        raise AssertionError("extractor called despite a cache hit")

    monkeypatch.setattr(probing, "compute_student_embeddings", fail)
    monkeypatch.setattr(probing, "compute_egemaps", fail)
    assert probe.main(argv + ["--protocol", "random10"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["loaded_from_cache"]["student"] is True
    again_rows = {row["method"]: row for row in again["methods"]}
    assert again_rows["student"]["scores"]["random10"] == student["random10"]

    # A changed file invalidates the cache.
    clip = cremad_root / "AudioWAV" / "1001_DFA_ANG_XX.wav"
    os.utime(clip, ns=(clip.stat().st_atime_ns, clip.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="cache hit"):
        probe.main(argv)


def test_probe_entry_point_errors(tmp_path, tiny_student_path):
    from kerasemo.experiments import probe

    with pytest.raises(SystemExit, match="error: .*does not exist"):
        probe.main(["--dataset", "rml", "--root", str(tmp_path / "none"), "--student", str(tiny_student_path),
                    "--out", str(tmp_path / "o"), "--quiet"])
    with pytest.raises(SystemExit, match="error: --student"):
        probe.main(["--dataset", "rml", "--root", str(tmp_path), "--student", str(tmp_path / "x.keras")])
    with pytest.raises(SystemExit, match="error: No usable clips"):
        probe.main(["--dataset", "rml", "--root", str(tmp_path), "--student", str(tiny_student_path),
                    "--out", str(tmp_path / "o"), "--quiet"])


def test_missing_opensmile_is_a_row_note_not_a_crash(tmp_path, cremad_root, tiny_student_path, monkeypatch):
    def missing():
        raise probing.AcousticBaselineUnavailable("no opensmile")

    monkeypatch.setattr(probing, "_opensmile", missing)
    results = probing.run_probe(
        "cremad", cremad_root, tiny_student_path, protocol="speaker", folds=4,
        out_dir=tmp_path / "out", cache_dir=None, progress=False,
    )
    assert results.method("acoustic").note == "not installed (pip install kerasemo[acoustic])"
    assert results.protocols == ("speaker",)
    assert "not installed (pip install kerasemo[acoustic])" in (tmp_path / "out" / "results.md").read_text()


@pytest.mark.slow
def test_teacher_on_faces_rml_layout(tmp_path, tiny_student_path):
    from kerasemo.evaluation.classification import accuracy  # noqa: F401  (module exists)
    from kerasemo.models.teacher import SEResNetTeacher

    root = tmp_path / "RML"
    codes = ("an", "di", "fe", "ha", "sa", "su")
    for subject in (1, 2, 3):
        for index, code in enumerate(codes):
            relative = f"s{subject}/{code}1.avi" if subject != 2 else f"s2/English/{code}/{code}1.avi"
            write_av(root / relative, seconds=0.8, frames=13, shade=40 * index, tone=150 + 50 * index + subject)
    teacher = SEResNetTeacher(input_size=32, blocks_per_stage=(1, 1, 1, 1), base_width=4, se_reduction=2)
    teacher_path = tmp_path / "teacher.keras"
    teacher.save(teacher_path)
    results = probing.run_probe(
        "rml", root, tiny_student_path, teacher=teacher_path, folds=3, acoustic=False,
        out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False,
    )
    teacher_row = results.method("teacher")
    assert set(teacher_row.scores) == {"random10", "speaker"}
    assert teacher_row.scores["random10"].num_clips == 18
    assert results.num_with_video == 18 and results.num_speakers == 3
    assert results.method("acoustic").note.startswith("not run")
    assert (tmp_path / "out" / "confusion.png").exists()
    assert "72.6 ± 3.9" in (tmp_path / "out" / "results.md").read_text()  # paper reference column
    frames = probing.sample_video_frames(root / "s1" / "an1.avi", stride=6)
    assert frames.shape == (3, 32, 32, 3)  # frames 0, 6, 12 of 13
