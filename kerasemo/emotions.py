"""The eight emotion classes, in the one order used everywhere, and maps from each dataset's labels.

The order is FERPlus's: every model output, target vector, table and plot in kerasemo uses it.

| index | class     | FER2013 | FERPlus | RML / eNTERFACE | CREMA-D | RAVDESS |
|-------|-----------|---------|---------|-----------------|---------|---------|
| 0     | neutral   | 6       | yes     | -               | NEU     | 01      |
| 1     | happiness | 3       | yes     | ha              | HAP     | 03      |
| 2     | surprise  | 5       | yes     | su              | -       | 08      |
| 3     | sadness   | 4       | yes     | sa              | SAD     | 04      |
| 4     | anger     | 0       | yes     | an              | ANG     | 05      |
| 5     | disgust   | 1       | yes     | di              | DIS     | 07      |
| 6     | fear      | 2       | yes     | fe              | FEA     | 06      |
| 7     | contempt  | -       | yes     | -               | -       | -       |

RAVDESS's "calm" (02) has no counterpart among the eight classes; it is dropped unless the caller
asks to merge it into neutral (`RAVDESS_CALM_AS_NEUTRAL`). FERPlus's extra vote columns
("unknown", "NF" for not-a-face) are not emotions; the FERPlus reader uses them for cleaning.

Example:

>>> from kerasemo import emotions
>>> emotions.CLASSES[1]
'happiness'
>>> emotions.map_label("cremad", "ANG")
'anger'
>>> emotions.LABEL_MAPS["rml"].missing
('neutral', 'contempt')
>>> emotions.class_index("fear")
6
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

CLASSES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
NUM_CLASSES = len(CLASSES)

# Classes left out of the paper's mean ROC AUC (too rare among the teacher's dominant predictions).
AUC_EXCLUDED_CLASSES: tuple[str, ...] = ("fear", "disgust", "contempt")

# The six classes shared by the acted speech sets the paper probes on (RML, eNTERFACE'05).
ACTED_SIX: tuple[str, ...] = ("happiness", "surprise", "sadness", "anger", "disgust", "fear")


def class_index(name: str) -> int:
    """Returns the position of an emotion in `CLASSES`.

    Args:
        name: one of `CLASSES`, case-insensitive.

    Returns:
        The integer index (0..7).

    Raises:
        ValueError: if `name` is not one of the eight classes.

    Example:

    >>> class_index("Anger")
    4
    """
    key = str(name).strip().lower()
    if key not in CLASSES:
        raise ValueError(
            f"Unknown emotion {name!r}. Expected one of {', '.join(CLASSES)} (FERPlus order)."
        )
    return CLASSES.index(key)


@dataclasses.dataclass(frozen=True)
class LabelMap:
    """How one dataset's raw labels map onto the eight classes.

    Args:
        dataset: the dataset's short name (e.g. ``"cremad"``).
        mapping: raw label -> canonical class name, or None for labels that have no
            counterpart and are dropped (with the reason in `dropped_reason`).
        dropped_reason: why labels mapped to None are dropped.
        case_sensitive: whether raw labels must match exactly (otherwise compared in lower case).

    Example:

    >>> LABEL_MAPS["ravdess"].to_class("02") is None  # "calm" is dropped
    True
    """

    dataset: str
    mapping: Mapping[str, str | None]
    dropped_reason: str = ""
    case_sensitive: bool = False

    def __post_init__(self):
        for raw, target in self.mapping.items():
            if target is not None and target not in CLASSES:
                raise ValueError(
                    f"LabelMap {self.dataset!r} maps {raw!r} to {target!r}, which is not one of "
                    f"{CLASSES}."
                )

    def _key(self, raw) -> str:
        key = str(raw).strip()
        return key if self.case_sensitive else key.lower()

    def _normalised(self) -> dict[str, str | None]:
        return {self._key(raw): target for raw, target in self.mapping.items()}

    @property
    def present(self) -> tuple[str, ...]:
        """The canonical classes this dataset has, in `CLASSES` order."""
        targets = {t for t in self.mapping.values() if t is not None}
        return tuple(c for c in CLASSES if c in targets)

    @property
    def missing(self) -> tuple[str, ...]:
        """The canonical classes this dataset lacks, in `CLASSES` order."""
        return tuple(c for c in CLASSES if c not in self.present)

    def to_class(self, raw) -> str | None:
        """Maps a raw label to its class name (None when the label is deliberately dropped).

        Raises:
            KeyError: for a label the dataset does not define.
        """
        table = self._normalised()
        key = self._key(raw)
        if key not in table:
            raise KeyError(
                f"{self.dataset}: unknown label {raw!r}. Known labels: "
                f"{', '.join(sorted(self.mapping))}."
            )
        return table[key]


_FERPLUS = {name: name for name in CLASSES}
_FERPLUS.update({"unknown": None, "nf": None})

# The two-letter emotion codes of RML's and eNTERFACE'05's folder and file names.
_TWO_LETTER_CODES = {
    "an": "anger",
    "di": "disgust",
    "fe": "fear",
    "ha": "happiness",
    "sa": "sadness",
    "su": "surprise",
}

LABEL_MAPS: dict[str, LabelMap] = {
    # fer2013.csv `emotion` column: 0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral.
    "fer2013": LabelMap(
        "fer2013",
        {
            "0": "anger",
            "1": "disgust",
            "2": "fear",
            "3": "happiness",
            "4": "sadness",
            "5": "surprise",
            "6": "neutral",
        },
    ),
    # fer2013new.csv vote columns.
    "ferplus": LabelMap(
        "ferplus",
        _FERPLUS,
        dropped_reason="'unknown' and 'NF' (not a face) votes are not emotions",
    ),
    # RML folder / file prefixes.
    "rml": LabelMap("rml", dict(_TWO_LETTER_CODES)),
    # eNTERFACE'05 folder names and the `yy` code of sXX_yy_Z.avi.
    "enterface": LabelMap(
        "enterface", {**_TWO_LETTER_CODES, **{name: name for name in _TWO_LETTER_CODES.values()}}
    ),
    # CREMA-D file names: actor_sentence_EMOTION_level.
    "cremad": LabelMap(
        "cremad",
        {
            "ANG": "anger",
            "DIS": "disgust",
            "FEA": "fear",
            "HAP": "happiness",
            "NEU": "neutral",
            "SAD": "sadness",
        },
        case_sensitive=True,
    ),
    # RAVDESS third field of the file name.
    "ravdess": LabelMap(
        "ravdess",
        {
            "01": "neutral",
            "02": None,
            "03": "happiness",
            "04": "sadness",
            "05": "anger",
            "06": "fear",
            "07": "disgust",
            "08": "surprise",
        },
        dropped_reason="'calm' (02) has no counterpart among the eight classes",
    ),
}

# RAVDESS with "calm" merged into neutral, for users who prefer keeping those clips.
RAVDESS_CALM_AS_NEUTRAL = dataclasses.replace(
    LABEL_MAPS["ravdess"],
    mapping={**LABEL_MAPS["ravdess"].mapping, "02": "neutral"},
    dropped_reason="",
)


def map_label(dataset: str, raw) -> str | None:
    """Maps a raw label of a named dataset to its canonical class name.

    Args:
        dataset: a key of `LABEL_MAPS` (``fer2013``, ``ferplus``, ``rml``, ``enterface``,
            ``cremad``, ``ravdess``).
        raw: the label as the dataset writes it (e.g. ``"ANG"``, ``"05"``, ``3``).

    Returns:
        The class name, or None for a label the dataset defines but that has no counterpart
        among the eight classes (e.g. RAVDESS "calm").

    Raises:
        KeyError: for an unknown dataset or label.

    Example:

    >>> map_label("fer2013", 3)
    'happiness'
    """
    if dataset not in LABEL_MAPS:
        raise KeyError(
            f"Unknown dataset {dataset!r}. Known datasets: {', '.join(sorted(LABEL_MAPS))}."
        )
    return LABEL_MAPS[dataset].to_class(raw)
