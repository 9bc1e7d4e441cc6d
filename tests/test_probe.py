"""Linear probe, cross-validation protocols, embedding cache, baselines and the probe entry point."""

import json
import os

import numpy as np
import pytest
from test_acted_readers import write_av, write_wav

from kerasemo.evaluation import probing
from kerasemo.models.probe import SOLVERS, LinearProbe, Standardize

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


@pytest.mark.parametrize("solver", ["newton-cholesky", "lbfgs"])
def test_probe_reaches_the_maximum_likelihood(solver):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    x, y = _gaussian_classes(n=300, seed=1)
    z = (x - x.mean(0, dtype=np.float64)) / x.std(0, dtype=np.float64)  # float64, as the probe fits
    probe = LinearProbe(num_classes=6, solver=solver)
    history = probe.fit(x, y)
    reference = LogisticRegression(C=np.inf, max_iter=5000, tol=1e-10).fit(z, y)
    optimum = log_loss(y, reference.predict_proba(z))
    assert history.history["loss"][-1] <= optimum + 1e-6
    # The weights loaded into Keras give the same probabilities as scikit-learn's model.
    np.testing.assert_allclose(probe.predict_proba(x), reference.predict_proba(z), atol=1e-4)
    assert 0 < probe.n_iter_ <= probe.max_iter


def test_probe_speaks_scikit_learn_and_round_trips_its_config(tmp_path):
    import keras
    from sklearn.metrics import accuracy_score

    x, y = _gaussian_classes(n=240)
    probe = LinearProbe(num_classes=6, solver="lbfgs", max_iter=50, tol=1e-6, class_names=list("abcdef"))
    probe.fit(x, y)
    np.testing.assert_array_equal(probe.classes_, np.arange(6))
    probabilities = probe.predict_proba(x)
    assert probabilities.shape == (240, 6) and probabilities.dtype == np.float32
    np.testing.assert_array_equal(probe.predict_labels(x), probabilities.argmax(1))
    assert probe.score(x, y) == pytest.approx(accuracy_score(y, probabilities.argmax(1)))
    config = probe.get_config()
    for key in ("num_classes", "standardize", "solver", "max_iter", "tol", "class_names", "name", "trainable", "dtype"):
        assert key in config, key
    assert LinearProbe.from_config(config).get_config() == config
    path = tmp_path / "probe.keras"
    probe.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == config and loaded.class_names == list("abcdef")
    np.testing.assert_allclose(loaded.predict_proba(x), probabilities, atol=1e-6)
    assert loaded.score(x, y) == probe.score(x, y)
    # Probes saved before the scikit-learn fit named the exact solver "newton".
    assert LinearProbe.from_config({**config, "solver": "newton"}).solver == "newton-cholesky"


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
        LinearProbe(num_classes=3, solver="irls")
    assert SOLVERS == ("newton-cholesky", "lbfgs", "keras")
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


def test_cross_validate_scores_uar_and_macro_f1_per_fold_as_sklearn():
    from sklearn.metrics import balanced_accuracy_score, f1_score

    x, y = _gaussian_classes(n=300, seed=2)
    plan = probing.random_folds(len(y), folds=5, seed=0)
    score = probing.cross_validate(x, y, plan, num_classes=6)
    expected_uar, expected_f1 = [], []
    for _, test in plan.splits(len(y)):
        expected_uar.append(balanced_accuracy_score(y[test], score.predictions[test]))
        expected_f1.append(f1_score(y[test], score.predictions[test], average="macro"))
    np.testing.assert_allclose(score.fold_scores["uar"], expected_uar)
    np.testing.assert_allclose(score.fold_scores["macro_f1"], expected_f1)
    mean, std = score.summary("macro_f1")
    assert mean == pytest.approx(np.mean(expected_f1)) and std == pytest.approx(np.std(expected_f1, ddof=1))
    record = score.to_dict()
    assert record["uar"]["folds"] == pytest.approx(expected_uar) and record["mean"] == score.mean
    with pytest.raises(ValueError, match="Unknown classifier 'svm'"):
        probing.cross_validate(x, y, plan, num_classes=6, classifier="svm")


def test_chance_scores_of_a_uniform_guess():
    scores = probing.chance_scores({"a": 10, "b": 30})
    # Expected confusion of a uniform guess: each true class split evenly over the predictions.
    from sklearn.metrics import f1_score

    y_true = np.r_[np.zeros(20), np.ones(60)].astype(int)
    y_pred = np.r_[np.zeros(10), np.ones(10), np.zeros(30), np.ones(30)].astype(int)
    assert scores["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert scores["accuracy"] == scores["uar"] == 0.5


def test_probe_options_validate_and_come_from_a_config():
    from kerasemo.config import ExperimentConfig, apply_overrides

    options = probing.ProbeOptions(out_dir="out", protocol=["speaker"], cache_dir=None)
    assert options.protocol == ("speaker",) and options.cache_dir is None
    with pytest.raises(ValueError, match="pooling"):
        probing.ProbeOptions(out_dir="out", pooling="median")
    with pytest.raises(ValueError, match="max_pad_fraction"):
        probing.ProbeOptions(out_dir="out", max_pad_fraction=1.5)
    with pytest.raises(ValueError, match="Unknown protocol 'loso'"):
        probing.ProbeOptions(out_dir="out", protocol="loso")
    with pytest.raises(TypeError, match="Unknown probe option"):
        options.replace(fold=3)
    experiment = apply_overrides(
        ExperimentConfig(), ["evaluation.probe_protocol=speaker", "evaluation.probe_folds=4", "frames.pooling=mean"]
    )
    from_config = probing.ProbeOptions.from_config(experiment, out_dir="out", forest_trees=7)
    assert from_config.protocol == ("speaker", "random10") and from_config.folds == 4
    assert from_config.pooling == "mean" and from_config.forest_trees == 7
    assert from_config.experiment is experiment
    with pytest.raises(TypeError, match="unknown option"):
        probing.run_probe("cremad", "root", "student.keras", out_dir="out", fold=3)
    with pytest.raises(TypeError, match="out_dir"):
        probing.run_probe("cremad", "root", "student.keras")


def test_pad_for_student_is_the_one_padding_rule():
    from kerasemo.models.student import MIN_INPUT_FRAMES

    short = np.ones((257, 28), np.float32)
    padded = probing.pad_for_student(short)
    assert padded.shape == (257, MIN_INPUT_FRAMES) and padded[:, 28:].sum() == 0
    long = np.ones((257, 90), np.float32)
    assert probing.pad_for_student(long) is not None and probing.pad_for_student(long).shape == (257, 90)
    assert probing.pad_for_student(long, fixed_frames=64).shape == (257, 64)
    assert probing.pad_for_student(short, fixed_frames=64).shape == (257, 64)
    with pytest.raises(ValueError, match=r"\[bins, frames\]"):
        probing.pad_for_student(np.ones((1, 257, 28)))


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
    assert probe.main(argv + ["--save-head", str(tmp_path / "head")]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["num_clips"] == 24 and results["num_speakers"] == 4
    assert results["classes"] == ["neutral", "happiness", "sadness", "anger", "disgust", "fear"]
    assert results["protocols"] == ["random10", "speaker"]
    rows = {row["method"]: row for row in results["methods"]}
    assert rows["chance"]["chance"] == pytest.approx(1 / 6)
    student = rows["student"]["scores"]
    assert student["random10"]["num_folds"] == 10 and student["speaker"]["num_folds"] == 4
    assert len(student["random10"]["fold_accuracies"]) == 10
    for metric in ("uar", "macro_f1"):
        assert len(student["speaker"][metric]["folds"]) == 4 and 0 <= student["speaker"][metric]["mean"] <= 1
    assert results["metrics"] == ["accuracy", "uar", "macro_f1"]
    assert rows["teacher"]["note"] == "no video in this set"
    assert rows["acoustic"]["scores"] or "not installed" in rows["acoustic"]["note"]
    markdown = (out / "results.md").read_text()
    assert "student logits (8-d) + linear probe" in markdown and "leave-one-speaker-out" in markdown
    assert "random10 UAR (%)" in markdown and "speaker macro-F1 (%)" in markdown
    # The head: a LinearProbe on every clip's student logits, and its class names.
    head, class_names = probing.load_probe_head(tmp_path / "head")
    assert class_names == results["classes"] and head.class_names == class_names
    info = json.loads((tmp_path / "head" / "probe_head.json").read_text())
    assert info["num_clips"] == 24 and info["num_features"] == 8 and len(info["student_sha256"]) == 64
    assert results["files"]["head_keras"].endswith("probe_head.keras")
    assert head.predict_proba(np.zeros((2, 8), np.float32)).shape == (2, 6)
    assert (out / "confusion.png").stat().st_size > 5000
    assert (out / "config.toml").exists() and (out / "predictions.csv").exists()

    # Second run: everything comes from the cache, so the extractors must not run.
    def fail(*args, **kwargs):
        raise AssertionError("extractor called despite a cache hit")

    monkeypatch.setattr(probing.run, "compute_student_embeddings", fail)
    monkeypatch.setattr(probing.run, "compute_egemaps", fail)
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

    monkeypatch.setattr(probing.run, "import_opensmile", missing)
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
