"""Tests of the FERPlus reader (cleaning rules, label modes, errors) and the face TFRecords."""

import logging

import numpy as np
import pytest

from kerasemo.data import face_records
from kerasemo.data.ferplus import (
    FERPlusError,
    cleaning_reasons,
    majority_labels,
    read_ferplus,
    sample_one_hot,
    write_ferplus,
)

# One row per case: (name, Usage, Image name, 10 votes: 8 emotions, unknown, NF, expected reason).
# Votes are in VOTE_COLUMNS order: neutral happiness surprise sadness anger disgust fear contempt
# unknown NF.
CASES = [
    ("clear", "Training", "a.png", [8, 2, 0, 0, 0, 0, 0, 0, 0, 0], ""),
    ("outliers_zeroed", "Training", "b.png", [0, 6, 1, 1, 0, 0, 0, 0, 1, 1], ""),
    ("empty_name", "Training", "", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10], "not_a_face"),
    ("empty_name_good_votes", "PublicTest", "", [9, 1, 0, 0, 0, 0, 0, 0, 0, 0], "not_a_face"),
    ("unknown_top", "Training", "c.png", [3, 0, 0, 0, 0, 0, 0, 0, 5, 2], "unknown_or_nf_max"),
    ("nf_tied_with_emotion", "Training", "d.png", [4, 0, 0, 0, 0, 0, 0, 0, 2, 4], "unknown_or_nf_max"),
    ("all_outliers", "PrivateTest", "e.png", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], "unknown_or_nf_max"),
    ("three_way_tie", "Training", "f.png", [3, 3, 3, 1, 0, 0, 0, 0, 0, 0], "tied_maxima"),
    ("two_way_tie_kept", "PrivateTest", "g.png", [0, 0, 4, 4, 0, 0, 0, 0, 2, 0], ""),
    ("weak_majority", "Training", "h.png", [3, 2, 2, 2, 0, 0, 0, 0, 1, 0], "weak_majority"),
    ("exactly_half_dropped", "PublicTest", "i.png", [4, 2, 2, 0, 0, 0, 0, 0, 0, 0], "weak_majority"),
    ("just_above_half", "PublicTest", "j.png", [5, 2, 2, 0, 0, 0, 0, 0, 0, 0], ""),
    ("outliers_rescue", "PrivateTest", "k.png", [0, 0, 0, 0, 0, 0, 3, 1, 1, 1], ""),
    ("unknown_votes_count_in_total", "Training", "l.png", [0, 4, 0, 0, 0, 0, 0, 0, 3, 3], "weak_majority"),
    ("contempt", "Training", "m.png", [0, 0, 0, 0, 0, 0, 0, 7, 3, 0], ""),
]
KEPT_ROWS = [i for i, case in enumerate(CASES) if case[4] == ""]


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48))


@pytest.fixture
def fixture_dir(tmp_path):
    """FERPlus CSVs whose rows hit every cleaning rule (see CASES)."""
    directory = tmp_path / "ferplus"
    write_ferplus(
        directory,
        _images(len(CASES)),
        np.array([c[3] for c in CASES]),
        [c[1] for c in CASES],
        image_names=[c[2] for c in CASES],
    )
    return directory


# ---------------------------------------------------------------------------------------------
# Cleaning.


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cleaning_rule(case):
    _, _, name, votes, reason = case
    assert cleaning_reasons([votes], [name]).tolist() == [reason]


def test_reader_keeps_exactly_the_clean_rows(fixture_dir):
    data = read_ferplus(fixture_dir)
    assert data.row_index.tolist() == KEPT_ROWS
    assert data.usage.tolist() == [CASES[i][1] for i in KEPT_ROWS]
    np.testing.assert_array_equal(data.images, _images(len(CASES))[KEPT_ROWS].astype("uint8"))
    report = data.report
    assert report.total_rows == len(CASES)
    assert report.kept == len(KEPT_ROWS)
    assert report.dropped == {
        "not_a_face": 2,
        "unknown_or_nf_max": 3,
        "tied_maxima": 1,
        "weak_majority": 3,
    }
    assert report.kept_per_usage == {"Training": 3, "PublicTest": 1, "PrivateTest": 2}
    # Outlier votes (<= 1) are zeroed; unknown/NF columns are not part of the targets.
    outliers = data.votes[data.row_index.tolist().index(1)]
    np.testing.assert_array_equal(outliers, [0, 6, 0, 0, 0, 0, 0, 0])
    rescued = data.votes[data.row_index.tolist().index(12)]
    np.testing.assert_array_equal(rescued, [0, 0, 0, 0, 0, 0, 3, 0])
    assert data.votes.shape == (len(KEPT_ROWS), 8)
    raw_total = sum(sum(c[3]) for c in CASES)
    assert report.total_votes == raw_total
    assert report.outlier_votes == sum(v for c in CASES for v in c[3] if v <= 1)
    frame = data.to_dataframe()
    assert list(frame.columns[:3]) == ["row_index", "usage", "neutral"]
    assert frame["majority"].tolist()[-1] == "contempt"


# ---------------------------------------------------------------------------------------------
# Label modes.


def test_label_modes(fixture_dir):
    data = read_ferplus(fixture_dir)
    distribution = data.targets("distribution")
    np.testing.assert_allclose(distribution.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(distribution[0], [0.8, 0.2, 0, 0, 0, 0, 0, 0])
    # Majority: the 2-way tie (surprise 4, sadness 4) goes to the first class in order.
    tie = data.row_index.tolist().index(8)
    assert data.majority()[tie] == 2
    assert majority_labels([[0, 3, 3, 0, 0, 0, 0, 0]]).tolist() == [1]
    one_hot = data.targets("majority")
    np.testing.assert_array_equal(one_hot.argmax(axis=1), data.majority())
    np.testing.assert_array_equal(one_hot.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="label mode"):
        data.targets("soft")


def test_probability_mode_is_seeded_per_epoch():
    distribution = np.tile([[0.7, 0.3, 0, 0, 0, 0, 0, 0]], (4000, 1))
    first = sample_one_hot(distribution, seed=0, epoch=0)
    np.testing.assert_array_equal(first, sample_one_hot(distribution, seed=0, epoch=0))
    assert not np.array_equal(first, sample_one_hot(distribution, seed=0, epoch=1))
    assert set(first.sum(axis=1)) == {1.0}
    assert first[:, 0].mean() == pytest.approx(0.7, abs=0.03)
    assert first[:, 2:].sum() == 0  # classes with no votes are never drawn


# ---------------------------------------------------------------------------------------------
# Errors.


def _write(tmp_path, n=4, **kwargs):
    votes = np.tile([8, 2, 0, 0, 0, 0, 0, 0, 0, 0], (n, 1))
    usage = ["Training", "PublicTest", "PrivateTest", "Training"][:n]
    return write_ferplus(tmp_path, _images(n), votes, usage, **kwargs)


def _replace_line(path, line_number, transform):
    lines = path.read_text().splitlines(keepends=True)
    lines[line_number - 1] = transform(lines[line_number - 1])
    path.write_text("".join(lines))


def test_row_count_mismatch(tmp_path):
    _, plus = _write(tmp_path)
    lines = plus.read_text().splitlines(keepends=True)
    plus.write_text("".join(lines[:-1]))
    with pytest.raises(FERPlusError, match=r"fer2013.csv has 4 data rows but fer2013new.csv has 3"):
        read_ferplus(tmp_path)


def _set_first_pixels(line, replacement, drop=1):
    """Replaces the first `drop` pixel values of a fer2013.csv line by `replacement`."""
    label, rest = line.split(",", 1)
    pixels = rest.split(" ", drop)[drop]
    return f"{label},{replacement}{pixels}"


@pytest.mark.parametrize(
    "transform, problem",
    [
        (lambda line: _set_first_pixels(line, "7 7 ", drop=1), "has 2305 values"),
        (lambda line: _set_first_pixels(line, "", drop=1), "has 2303 values"),
        (lambda line: _set_first_pixels(line, "12.5 ", drop=1), "not an integer"),
        (lambda line: _set_first_pixels(line, "256 ", drop=1), "outside 0..255"),
        (lambda line: _set_first_pixels(line, "-3 ", drop=1), "outside 0..255"),
    ],
    ids=["too_many", "too_few", "float", "above_255", "negative"],
)
def test_malformed_pixels_name_the_line(tmp_path, transform, problem):
    fer, _ = _write(tmp_path)
    _replace_line(fer, 4, transform)  # data row 2 (PrivateTest)
    with pytest.raises(FERPlusError) as error:
        read_ferplus(tmp_path)
    message = str(error.value)
    assert "fer2013.csv line 4 (data row 2, Usage 'PrivateTest')" in message
    assert problem in message
    assert "2304 space-separated integers in 0..255" in message


def test_unknown_or_misaligned_usage(tmp_path):
    fer, plus = _write(tmp_path)
    _replace_line(plus, 3, lambda line: line.replace("PublicTest", "Validation"))
    with pytest.raises(FERPlusError, match=r"fer2013new.csv line 3 .*unknown Usage 'Validation'"):
        read_ferplus(tmp_path)
    _replace_line(plus, 3, lambda line: line.replace("Validation", "PrivateTest"))
    with pytest.raises(FERPlusError, match=r"Line 3 .*'PublicTest' in fer2013.csv but 'PrivateTest'"):
        read_ferplus(tmp_path)


def test_bad_votes_columns_and_files(tmp_path):
    fer, plus = _write(tmp_path)
    _replace_line(plus, 5, lambda line: line.rstrip("\n")[:-1] + "x\n")
    with pytest.raises(FERPlusError, match=r"line 5 .*'NF' holds 'x'"):
        read_ferplus(tmp_path)
    plus.write_text(plus.read_text().replace("contempt,", "scorn,", 1))
    with pytest.raises(FERPlusError, match=r"lacks the column\(s\) \['contempt'\]"):
        read_ferplus(tmp_path)
    fer.unlink()
    with pytest.raises(FileNotFoundError, match="fer2013.csv"):
        read_ferplus(tmp_path)


# ---------------------------------------------------------------------------------------------
# TFRecord shards and the tf.data pipeline.


def _synthetic_set(directory, n=60, seed=0):
    rng = np.random.default_rng(seed)
    votes = np.zeros((n, 10), int)
    classes = rng.integers(0, 8, n)
    votes[np.arange(n), classes] = 6
    votes[np.arange(n), (classes + 3) % 8] = 4
    usage = np.array(["Training", "PublicTest", "PrivateTest"])[np.arange(n) % 3]
    write_ferplus(directory, _images(n, seed), votes, usage)
    return classes


def test_records_written_once_then_skipped(tmp_path, caplog):
    _synthetic_set(tmp_path / "ferplus")
    cache = tmp_path / "cache"
    records = face_records.prepare_face_records(tmp_path / "ferplus", cache, examples_per_shard=8)
    assert records.directory.name.startswith("ferplus-")
    assert records.files("train")[0].endswith("train-00000-of-00003.tfrecord")
    assert [records.num_examples(s) for s in ("train", "val", "test")] == [20, 20, 20]
    files = sorted(records.directory.iterdir())
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    assert [p.name for p in cache.iterdir()] == [records.directory.name]  # no temporary left

    with caplog.at_level(logging.INFO, logger="kerasemo.data.face_records"):
        again = face_records.prepare_face_records(tmp_path / "ferplus", cache)
    assert any("skipping" in r.getMessage() for r in caplog.records)
    assert again.directory == records.directory
    assert {f: f.stat().st_mtime_ns for f in sorted(records.directory.iterdir())} == mtimes

    # Changed sources get their own folder.
    _synthetic_set(tmp_path / "ferplus", seed=1)
    other = face_records.prepare_face_records(tmp_path / "ferplus", cache)
    assert other.directory != records.directory

    # The shards hold exactly what the reader returned.
    data = read_ferplus(tmp_path / "ferplus").subset("PrivateTest")
    arrays = face_records.load_face_arrays(other, "test")
    np.testing.assert_array_equal(arrays["images"], data.images)
    np.testing.assert_array_equal(arrays["votes"], data.votes)
    np.testing.assert_array_equal(arrays["row_index"], data.row_index)


def _teacher_config(**overrides):
    import dataclasses

    from kerasemo.config import load_config

    return dataclasses.replace(
        load_config("demo").teacher, **{"input_size": 32, "batch_size": 8, **overrides}
    )


def test_face_dataset_batches_and_targets(tmp_path):
    _synthetic_set(tmp_path / "ferplus")
    records = face_records.prepare_face_records(tmp_path / "ferplus", tmp_path / "cache")
    config = _teacher_config()
    evaluation = face_records.make_face_dataset(records, "test", config, training=False)
    images, targets = next(iter(evaluation))
    assert images.shape == (8, 32, 32, 3) and images.dtype.name == "float32"
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 255.0
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # grey -> 3 channels
    expected = read_ferplus(tmp_path / "ferplus").subset("PrivateTest").distribution()[:8]
    np.testing.assert_allclose(targets.numpy(), expected, rtol=1e-6)
    assert len(list(evaluation)) == 3  # 20 faces in batches of 8
    majority = face_records.make_face_dataset(
        records, "test", config, training=False, label_mode="majority"
    )
    np.testing.assert_array_equal(next(iter(majority))[1].numpy().argmax(1), expected.argmax(1))
    train = face_records.make_face_dataset(
        records, "train", config, training=True, label_mode="probability", seed=0
    )
    one_hot = next(iter(train))[1].numpy()
    assert set(one_hot.sum(axis=1)) == {1.0}


def test_augmentation_in_the_pipeline_is_seeded(tmp_path):
    _synthetic_set(tmp_path / "ferplus")
    records = face_records.prepare_face_records(tmp_path / "ferplus", tmp_path / "cache")
    config = _teacher_config(augment_fraction=1.0)

    def first_epochs(seed, cfg=config, epochs=2):
        dataset = face_records.make_face_dataset(records, "train", cfg, training=True, seed=seed)
        return [np.concatenate([x.numpy() for x, _ in dataset]) for _ in range(epochs)]

    run_a, run_b = first_epochs(0), first_epochs(0)
    for epoch_a, epoch_b in zip(run_a, run_b, strict=True):
        np.testing.assert_array_equal(epoch_a, epoch_b)  # same seed, same batches
    assert not np.array_equal(run_a[0], run_a[1])  # each epoch draws anew
    assert not np.array_equal(run_a[0], first_epochs(1, epochs=1)[0])
    # Same seed with augmentation off: same shuffle, different pixels.
    plain = _teacher_config(augment_fraction=0.0, flip_probability=0.0)
    unaugmented = first_epochs(0, cfg=plain, epochs=1)[0]
    assert unaugmented.shape == run_a[0].shape
    assert np.abs(unaugmented - run_a[0]).mean() > 1.0
