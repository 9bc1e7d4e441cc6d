"""Text formats of the corpus: FERPlus CSVs, VoxCeleb1 face-track txt and meta, acted-set names.

Each writer mirrors the real dataset's format (the README's "Data layouts it reads"):

- ``fer2013.csv``: ``emotion,pixels,Usage``; pixels are 2,304 space-separated grey values.
- ``fer2013new.csv``: ``Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,
  fear,contempt,unknown,NF``; row-aligned with ``fer2013.csv``; integer votes; an empty image
  name marks a not-a-face row; names are ``fer%07d.png`` of the row index.
- VoxCeleb1 face-track txt (``txt/idXXXXX/<video>/00001.txt``)::

      Identity  : \\tid10001
      Reference : \\t1zcIwhmdeo4
      Offset    : \\t1
      FV Conf   : \\t16.647\\t(1)
      ASD Conf  : \\t4.465
      <empty line>
      FRAME \\tX \\tY \\tW \\tH \\n
      000245 \\t123 \\t45 \\t67 \\t67 \\n

  (a space before each tab, as in the released files; boxes in pixels of a 640 x 360 frame;
  one row per video frame at 25 fps, absolute frame numbers).
- ``vox1_meta.csv``: tab-separated ``VoxCeleb1 ID, VGGFace1 ID, Gender, Nationality, Set``.
- CREMA-D file names ``<actor>_<sentence>_<EMO>_<level>.wav`` and RML paths whose file name
  starts with the two-letter emotion code, at a depth that varies by subject.

Example:

>>> print(track_txt("id10001", "abcdefghijk", [(245, 10, 20, 100, 100)], fv_conf=16.6, asd_conf=4.4),
...       end="")  # doctest: +NORMALIZE_WHITESPACE
Identity  : id10001
Reference : abcdefghijk
Offset    : 1
FV Conf   : 16.600 (1)
ASD Conf  : 4.400
<BLANKLINE>
FRAME X Y W H
000245 10 20 100 100
"""

from __future__ import annotations

import csv
import io
import os
import pathlib
from collections.abc import Iterable, Sequence

import numpy as np

from kerasemo.data.synthetic.annotators import VOTE_COLUMNS

PathLike = str | os.PathLike

FER2013_FILENAME = "fer2013.csv"
FERPLUS_FILENAME = "fer2013new.csv"
FERPLUS_HEADER = ("Usage", "Image name") + VOTE_COLUMNS
USAGES = ("Training", "PublicTest", "PrivateTest")
BOX_FRAME_HEIGHT = 360
"""VoxCeleb1 boxes are in pixels of a 360-high (640 x 360) frame."""
BOX_FRAME_WIDTH = 640

_PIXEL_STRINGS = np.array([str(i).encode() for i in range(256)], dtype=object)


def _pixels_field(image: np.ndarray) -> bytes:
    return b" ".join(_PIXEL_STRINGS[np.asarray(image, np.uint8).reshape(-1)].tolist())


def ferplus_image_name(row: int) -> str:
    """FERPlus image name of a row, e.g. ``fer0000012.png``."""
    return f"fer{row:07d}.png"


def write_ferplus(
    folder: PathLike,
    images: np.ndarray,
    fer2013_codes: Sequence[int],
    usages: Sequence[str],
    votes: np.ndarray,
    has_face_name: Sequence[bool],
) -> tuple[pathlib.Path, pathlib.Path]:
    """Writes ``fer2013.csv`` and ``fer2013new.csv``, row-aligned.

    Args:
        folder: output folder.
        images: ``[N, 48, 48]`` uint8.
        fer2013_codes: ``[N]`` FER2013 7-class codes.
        usages: ``[N]`` one of `USAGES`.
        votes: ``[N, 10]`` integer votes in `VOTE_COLUMNS` order.
        has_face_name: ``[N]``; False leaves the image name empty (a not-a-face row).

    Returns:
        The two paths.

    Raises:
        ValueError: for mismatched lengths, wrong image size or an unknown usage.
    """
    images = np.asarray(images)
    n = images.shape[0]
    if images.shape[1:] != (48, 48):
        raise ValueError(f"FER2013 images are 48 x 48; received shape {images.shape[1:]}.")
    if not (len(fer2013_codes) == len(usages) == len(votes) == len(has_face_name) == n):
        raise ValueError(
            "write_ferplus: images, codes, usages, votes and names must have the same length; "
            f"received {n}, {len(fer2013_codes)}, {len(usages)}, {len(votes)}, {len(has_face_name)}."
        )
    bad = sorted(set(usages) - set(USAGES))
    if bad:
        raise ValueError(f"Unknown FER2013 usage(s) {bad}; expected {USAGES}.")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fer_path = folder / FER2013_FILENAME
    with open(fer_path, "wb") as handle:
        handle.write(b"emotion,pixels,Usage\n")
        for image, code, usage in zip(images, fer2013_codes, usages):
            handle.write(b"%d,%s,%s\n" % (int(code), _pixels_field(image), usage.encode()))
    plus_path = folder / FERPLUS_FILENAME
    with open(plus_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FERPLUS_HEADER)
        for row, (usage, named, counts) in enumerate(zip(usages, has_face_name, votes)):
            name = ferplus_image_name(row) if named else ""
            writer.writerow([usage, name, *[int(c) for c in counts]])
    return fer_path, plus_path


def track_txt(
    identity: str,
    video: str,
    boxes: Iterable[tuple[int, int, int, int, int]],
    *,
    fv_conf: float,
    asd_conf: float,
    offset: int = 1,
) -> str:
    """The text of a VoxCeleb1 face-track file.

    Args:
        identity: ``idXXXXX``.
        video: the 11-character video id.
        boxes: ``(frame, x, y, w, h)`` per video frame (pixels of a 640 x 360 frame).
        fv_conf: face-verification confidence written in the header.
        asd_conf: active-speaker-detection confidence written in the header.
        offset: the header's audio-visual offset (frames). The synthetic audio is in sync with
            the video whatever this says; 1 is written, a value common in the real files.

    Returns:
        The file's text (``\\n`` line ends).
    """
    lines = [
        f"Identity  : \t{identity}",
        f"Reference : \t{video}",
        f"Offset    : \t{offset}",
        f"FV Conf   : \t{fv_conf:.3f}\t(1)",
        f"ASD Conf  : \t{asd_conf:.3f}",
        "",
        "FRAME \tX \tY \tW \tH ",
    ]
    lines += [f"{f:06d} \t{x} \t{y} \t{w} \t{h} " for f, x, y, w, h in boxes]
    return "\n".join(lines) + "\n"


def write_text(path: PathLike, text: str) -> None:
    """Writes UTF-8 text with ``\\n`` line ends, creating the parent folder."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_table(
    path: PathLike, header: Sequence[str], rows: Iterable[Sequence], delimiter: str = ","
) -> None:
    """Writes a CSV (or TSV) table with a header row; floats with 4 decimals."""

    def cell(value):
        if isinstance(value, (float, np.floating)):
            return f"{float(value):.4f}"
        if isinstance(value, (bool, np.bool_)):
            return "1" if value else "0"
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    write_text(path, buffer.getvalue())


VOX1_META_HEADER = ("VoxCeleb1 ID", "VGGFace1 ID", "Gender", "Nationality", "Set")

CREMAD_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
"""The twelve CREMA-D sentence codes."""
CREMAD_EMOTIONS = {
    "anger": "ANG", "disgust": "DIS", "fear": "FEA", "happiness": "HAP", "neutral": "NEU", "sadness": "SAD",
}
CREMAD_LEVELS = ("LO", "MD", "HI")
"""Intensity levels that CREMA-D records for sentence IEO only (others are ``XX``)."""

RML_CODES = {
    "anger": "an", "disgust": "di", "fear": "fe", "happiness": "ha", "sadness": "sa", "surprise": "su",
}
_RML_LANGUAGES = ("english", "mandarin", "urdu", "punjabi", "persian", "italian")


def cremad_filename(actor: int, sentence: str, emotion: str, level: str = "XX") -> str:
    """CREMA-D audio file name, e.g. ``1001_DFA_ANG_XX.wav``.

    Raises:
        ValueError: for an emotion CREMA-D lacks or an unknown sentence/level.
    """
    if emotion not in CREMAD_EMOTIONS:
        raise ValueError(f"CREMA-D has no {emotion!r}; it has {sorted(CREMAD_EMOTIONS)}.")
    if sentence not in CREMAD_SENTENCES or level not in CREMAD_LEVELS + ("XX",):
        raise ValueError(f"Unknown CREMA-D sentence/level {sentence!r}/{level!r}.")
    return f"{actor}_{sentence}_{CREMAD_EMOTIONS[emotion]}_{level}.wav"


def rml_relative_path(subject: int, emotion: str, take: int) -> pathlib.PurePosixPath:
    """Path of an RML-like clip below the set's root; the depth depends on the subject.

    Subjects cycle through four layouts (RML's folders differ by speaker):
    ``s1/an1.avi``, ``s2/an/an1.avi``, ``s3/<language>/an/an1.avi``, ``s4/<language>/an1.avi``.
    The file name always starts with the emotion code.

    Raises:
        ValueError: for an emotion RML lacks.
    """
    if emotion not in RML_CODES:
        raise ValueError(f"RML has no {emotion!r}; it has {sorted(RML_CODES)}.")
    code = RML_CODES[emotion]
    subject_dir = f"s{subject + 1}"
    language = _RML_LANGUAGES[subject % len(_RML_LANGUAGES)]
    name = f"{code}{take + 1}.avi"
    layout = subject % 4
    if layout == 0:
        return pathlib.PurePosixPath(subject_dir, name)
    if layout == 1:
        return pathlib.PurePosixPath(subject_dir, code, name)
    if layout == 2:
        return pathlib.PurePosixPath(subject_dir, language, code, name)
    return pathlib.PurePosixPath(subject_dir, language, name)
