"""The canonical class order and every dataset's label map."""

import pytest

from kerasemo import emotions


def test_canonical_order_is_ferplus():
    assert emotions.CLASSES == (
        "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
    )
    assert emotions.NUM_CLASSES == 8
    assert [emotions.class_index(c) for c in emotions.CLASSES] == list(range(8))


@pytest.mark.parametrize(
    "dataset, raw, expected",
    [
        ("fer2013", 0, "anger"), ("fer2013", 1, "disgust"), ("fer2013", 2, "fear"),
        ("fer2013", 3, "happiness"), ("fer2013", 4, "sadness"), ("fer2013", 5, "surprise"),
        ("fer2013", "6", "neutral"),
        ("ferplus", "contempt", "contempt"), ("ferplus", "NF", None), ("ferplus", "unknown", None),
        ("rml", "an", "anger"), ("rml", "SU", "surprise"), ("rml", "fe", "fear"),
        ("enterface", "di", "disgust"), ("enterface", "sadness", "sadness"),
        ("cremad", "ANG", "anger"), ("cremad", "NEU", "neutral"), ("cremad", "FEA", "fear"),
        ("ravdess", "01", "neutral"), ("ravdess", "02", None), ("ravdess", "08", "surprise"),
        ("ravdess", "07", "disgust"), ("ravdess", "06", "fear"),
    ],
)
def test_label_maps(dataset, raw, expected):
    assert emotions.map_label(dataset, raw) == expected


@pytest.mark.parametrize(
    "dataset, missing",
    [
        ("fer2013", ("contempt",)),
        ("ferplus", ()),
        ("rml", ("neutral", "contempt")),
        ("enterface", ("neutral", "contempt")),
        ("cremad", ("surprise", "contempt")),
        ("ravdess", ("contempt",)),
    ],
)
def test_missing_classes_are_stated(dataset, missing):
    assert emotions.LABEL_MAPS[dataset].missing == missing


def test_acted_sets_share_six_classes():
    assert set(emotions.LABEL_MAPS["rml"].present) == set(emotions.ACTED_SIX)
    assert set(emotions.LABEL_MAPS["enterface"].present) == set(emotions.ACTED_SIX)


def test_ravdess_calm_can_be_merged_into_neutral():
    assert emotions.RAVDESS_CALM_AS_NEUTRAL.to_class("02") == "neutral"
    assert emotions.LABEL_MAPS["ravdess"].dropped_reason


def test_unknown_labels_and_datasets_raise_with_the_known_ones():
    with pytest.raises(KeyError, match="cremad: unknown label 'ang'.*ANG"):
        emotions.map_label("cremad", "ang")  # CREMA-D codes are upper case
    with pytest.raises(KeyError, match="Known datasets: .*ravdess"):
        emotions.map_label("iemocap", "ang")
    with pytest.raises(ValueError, match="Unknown emotion 'joy'"):
        emotions.class_index("joy")
