"""Identity-disjoint train / heard_val / unheard_val splits."""

import collections
import random

import pytest

from kerasemo.config import SplitConfig
from kerasemo.data import splits


def _pairs(identities=50, tracks=(2, 40), seed=0):
    rng = random.Random(seed)
    return [
        (f"id{i:05d}", f"id{i:05d}/vid{t % 3}/{t:05d}")
        for i in range(identities)
        for t in range(rng.randint(*tracks))
    ]


def _identities(assignment, pairs, split):
    owner = {t: i for i, t in pairs}
    return {owner[t] for t, s in assignment.items() if s == split}


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_unheard_identities_never_in_train_and_heard_identities_all_are(seed):
    pairs = _pairs(seed=seed)
    assignment = splits.assign_splits(pairs, seed=seed)
    assert set(assignment) == {t for _, t in pairs}
    train = _identities(assignment, pairs, "train")
    heard = _identities(assignment, pairs, "heard_val")
    unheard = _identities(assignment, pairs, "unheard_val")
    assert not unheard & train
    assert not unheard & heard
    assert heard and heard <= train
    splits.check_identity_disjoint(assignment, {t: i for i, t in pairs})


def test_proportions_follow_the_config():
    pairs = _pairs(identities=200, tracks=(20, 60))
    config = SplitConfig()  # the paper's: 0.2 of identities unheard, 0.037 of the rest heard
    assignment = splits.assign_splits(pairs, config, seed=0)
    assert len(_identities(assignment, pairs, "unheard_val")) == 40
    counts = splits.split_counts(assignment)
    heard_pool = counts["train"] + counts["heard_val"]
    assert counts["heard_val"] == round(0.037 * heard_pool)
    other = splits.assign_splits(pairs, SplitConfig(0.5, 0.2), seed=0)
    assert len(_identities(other, pairs, "unheard_val")) == 100
    other_counts = splits.split_counts(other)
    assert other_counts["heard_val"] == round(
        0.2 * (other_counts["train"] + other_counts["heard_val"])
    )


def test_deterministic_and_independent_of_order():
    pairs = _pairs()
    first = splits.assign_splits(pairs, seed=3)
    shuffled = list(pairs)
    random.Random(1).shuffle(shuffled)
    assert splits.assign_splits(shuffled, seed=3) == first
    assert splits.assign_splits(pairs, seed=4) != first


def test_small_corpora_keep_every_split_meaningful():
    pairs = [("a", "a/v/1"), ("b", "b/v/1"), ("b", "b/v/2"), ("c", "c/v/1")]
    assignment = splits.assign_splits(pairs, seed=0)
    counts = collections.Counter(assignment.values())
    assert counts["unheard_val"] >= 1 and counts["heard_val"] == 1
    # The only identity with two tracks gives one to heard_val and keeps one in train.
    assert sorted(s for t, s in assignment.items() if t.startswith("b/")) == ["heard_val", "train"]
    # Singletons only: nothing can be held out as heard_val without losing its identity.
    singles = [(x, f"{x}/v/1") for x in "abcdef"]
    assert splits.split_counts(splits.assign_splits(singles, seed=0))["heard_val"] == 0


def test_errors():
    with pytest.raises(ValueError, match="at least 3 identities.*received 2"):
        splits.assign_splits([("a", "a/1"), ("b", "b/1"), ("b", "b/2")])
    with pytest.raises(ValueError, match="appears more than once"):
        splits.assign_splits([("a", "x/1"), ("b", "x/1"), ("c", "c/1")])
    with pytest.raises(ValueError, match="Unheard identities also appear"):
        splits.check_identity_disjoint(
            {"a/1": "unheard_val", "a/2": "train"}, {"a/1": "a", "a/2": "a"}
        )
    with pytest.raises(ValueError, match="no train track"):
        splits.check_identity_disjoint({"a/1": "heard_val"}, {"a/1": "a"})
