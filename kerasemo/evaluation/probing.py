"""Linear-probe evaluation of the student on labelled speech sets (paper section 5.2, Table 5, Figure 5).

`run_probe` reads a labelled set (`kerasemo.data.acted.read_dataset`), computes one feature
vector per clip for every method, cross-validates a classifier on each with the same folds, and
writes the results table (``results.md``, ``results.json``), the per-clip predictions
(``predictions.csv``) and the teacher/student confusion matrices (``confusion.png``).

Methods (rows of the table):

- **chance**: a uniform random guess, 1/K (the paper's "Random" row; no folds). A
  **majority-class** row (the training fold's most frequent class) is also given, since the
  non-acted sets are not exactly balanced.
- **acoustic**: eGeMAPS v02 functionals (88 features, openSMILE's Python package, the optional
  ``acoustic`` extra) + a seeded random forest, the classic baseline the paper compares with
  (Noroozi et al.'s 88 audio features + random forest). Without ``opensmile`` the row says how to
  install it.
- **student**: the student's logits on the **full-length** utterance (the paper: "we use the full
  speech segment"), 8-d, + `kerasemo.models.probe.LinearProbe` (affine + softmax, unregularised).
- **teacher**: the face teacher on the clip's video frames (one frame in every
  ``frame_stride``, at most ``max_video_frames`` spread over the clip, each the centred square
  crop of the whole frame: acted sets film one frontal face, and face detection is out of
  scope), frame logits max-pooled to 8-d, + the same probe. Only where the set has video.

Protocols (`make_folds`):

- ``random10``: the authors' folds (``run_cross_val.m``): a random permutation of the clips
  (seed 0) cut into 10 contiguous chunks at ``round(linspace(0, N, 11))``; not stratified and not
  speaker-independent (the same speaker appears in training and test folds). The permutation
  comes from NumPy's ``default_rng(seed)``, not MATLAB's ``rng(0); randperm``, so the folds are
  the same scheme, not the same clips.
- ``speaker``: speaker-independent folds (`sklearn.model_selection.GroupKFold`, no shuffling:
  deterministic, balanced by size) with ``min(folds, speakers)`` folds; with fewer speakers than
  folds that is leave-one-speaker-out. The protocol users should trust for unseen speakers.

Scores are the mean and standard deviation over folds of the per-fold accuracy; the standard
deviation uses ``ddof=1`` (MATLAB's ``std``, as in the authors' ``emo_benchmarks.m``). Confusion
matrices pool every clip's prediction from the fold where it was tested (the authors sum the
per-fold matrices: the same thing) and are drawn row-normalised, truth as rows.

Embeddings are cached (``.npz`` in `cache_dir`) under a key hashing the model file's bytes (or
weights and config), the dataset name and root, and each clip's relative path, size and
modification time, plus the extraction settings; a second run with the same inputs loads them.

Example:

```python
from kerasemo.evaluation.probing import run_probe

results = run_probe("rml", "/data/rml", "runs/distill/student.keras",
                    teacher="runs/teacher/teacher.keras", out_dir="runs/probe-rml",
                    cache_dir="runs/cache")
print(results.to_markdown())
print(results.score("student", "random10"))   # (mean, std) accuracy
```
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import pathlib
import time
from collections.abc import Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("random10", "speaker")
METHODS: tuple[str, ...] = ("chance", "majority", "acoustic", "student", "teacher")
DEFAULT_CACHE_DIR = pathlib.Path("runs") / "cache"
"""Project-local default of the entry point's ``--cache-dir`` (relative to the working folder)."""

EMBEDDING_VERSION = "student-v1"
TEACHER_VERSION = "teacher-v1"
ACOUSTIC_VERSION = "egemaps-v1"
ACOUSTIC_INSTALL_HINT = "not installed (pip install kerasemo[acoustic])"

# Paper Table 5 (RML, eNTERFACE): mean (std) accuracy in percent, 10-fold over clips.
PAPER_TABLE5: dict[str, dict[str, tuple[float, float | None]]] = {
    "rml": {
        "chance": (16.7, None),
        "student": (49.7, 5.4),
        "teacher": (72.6, 3.9),
        "acoustic": (65.3, None),
    },
    "enterface": {
        "chance": (16.7, None),
        "student": (34.3, 4.0),
        "teacher": (48.3, 4.9),
        "acoustic": (47.1, None),
    },
}

_TITLES = {
    "chance": "chance (uniform guess, 1/K)",
    "majority": "majority class of the training fold",
    "acoustic": "eGeMAPS functionals (88) + random forest",
    "student": "student logits (8-d) + linear probe",
    "teacher": "teacher on faces, max-pooled frame logits (8-d) + linear probe",
}
_MODALITY = {"chance": "-", "majority": "-", "acoustic": "A", "student": "A", "teacher": "V"}


class AcousticBaselineUnavailable(ImportError):
    """The acoustic baseline needs the optional ``opensmile`` package (extra ``acoustic``)."""


# ---------------------------------------------------------------------------------------------
# Folds.


@dataclasses.dataclass(frozen=True)
class FoldPlan:
    """Test-index sets of one cross-validation protocol over N clips.

    Args:
        protocol: ``"random10"`` or ``"speaker"``.
        test_folds: one sorted int array of clip indices per fold; they partition ``0..N-1``.
        description: how the folds were made (for tables).
    """

    protocol: str
    test_folds: tuple[np.ndarray, ...]
    description: str

    @property
    def num_folds(self) -> int:
        return len(self.test_folds)

    def splits(self, num_samples: int):
        """Yields ``(train_indices, test_indices)`` per fold."""
        everything = np.arange(num_samples)
        for test in self.test_folds:
            mask = np.ones(num_samples, bool)
            mask[test] = False
            yield everything[mask], test

    def fold_of(self, num_samples: int) -> np.ndarray:
        """`[N]` fold number (0-based) of each clip's test fold."""
        fold = np.full(num_samples, -1, np.int64)
        for number, test in enumerate(self.test_folds):
            fold[test] = number
        return fold


def _matlab_round(values) -> np.ndarray:
    """MATLAB's ``round``: halves away from zero (NumPy rounds halves to even)."""
    values = np.asarray(values, np.float64)
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


def random_folds(num_samples: int, folds: int = 10, seed: int = 0) -> FoldPlan:
    """The authors' random folds over clips: contiguous chunks of a seeded permutation.

    Args:
        num_samples: N clips.
        folds: number of folds (10 in the paper).
        seed: permutation seed (0 in the paper).

    Returns:
        A `FoldPlan` whose fold ``i`` holds ``perm[round(i N / k) : round((i + 1) N / k)]``.

    Raises:
        ValueError: if ``folds < 2`` or ``num_samples < folds``.

    Example:

    >>> [len(t) for t in random_folds(25, folds=10).test_folds]
    [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2; received {folds}.")
    if num_samples < folds:
        raise ValueError(
            f"{num_samples} clips cannot be split into {folds} folds; use fewer folds "
            "(--folds / evaluation.probe_folds)."
        )
    permutation = np.random.default_rng(seed).permutation(num_samples)
    bounds = _matlab_round(np.linspace(0, num_samples, folds + 1))
    tests = tuple(np.sort(permutation[bounds[i] : bounds[i + 1]]) for i in range(folds))
    return FoldPlan(
        "random10",
        tests,
        f"{folds} random folds over clips (permutation seed {seed}, contiguous chunks as in the "
        "authors' run_cross_val.m; speakers shared between train and test)",
    )


def speaker_folds(speakers: Sequence, folds: int = 10) -> FoldPlan:
    """Speaker-independent folds: `GroupKFold` with ``min(folds, number of speakers)`` folds.

    Args:
        speakers: `[N]` speaker of each clip (no None).
        folds: requested number of folds; fewer speakers than that gives leave-one-speaker-out.

    Returns:
        A `FoldPlan` in which no speaker appears in more than one fold.

    Raises:
        ValueError: if a speaker is missing or there are fewer than 2 speakers.

    Example:

    >>> plan = speaker_folds(["a", "a", "b", "c", "c", "d"], folds=10)
    >>> plan.num_folds
    4
    """
    from sklearn.model_selection import GroupKFold

    speakers = np.asarray([None if s is None else str(s) for s in speakers], dtype=object)
    if any(s is None or s == "" or s == "nan" for s in speakers):
        raise ValueError(
            "The speaker protocol needs a speaker for every clip; some are missing (a CSV "
            "manifest needs a 'speaker' column). Use --protocol random10 instead."
        )
    unique = sorted(set(speakers))
    if len(unique) < 2:
        raise ValueError(
            f"The speaker protocol needs at least 2 speakers; found {len(unique)} "
            f"({unique}). Check that --root points at the folder holding one folder per speaker."
        )
    k = min(folds, len(unique))
    codes = np.array([unique.index(s) for s in speakers])
    splitter = GroupKFold(n_splits=k)
    tests = tuple(
        np.sort(test) for _, test in splitter.split(np.zeros(len(codes)), groups=codes)
    )
    if k < folds:
        description = f"leave-one-speaker-out ({k} speakers < {folds} folds)"
    else:
        description = f"{k} speaker-independent folds (GroupKFold over {len(unique)} speakers)"
    return FoldPlan("speaker", tests, description)


def make_folds(protocol: str, num_samples: int, *, folds: int = 10, seed: int = 0, speakers=None) -> FoldPlan:
    """Builds the folds of a named protocol (``"random10"`` or ``"speaker"``).

    Raises:
        ValueError: for an unknown protocol, or what `random_folds`/`speaker_folds` raise.
    """
    if protocol == "random10":
        return random_folds(num_samples, folds, seed)
    if protocol == "speaker":
        if speakers is None:
            raise ValueError("The speaker protocol needs the clips' speakers.")
        return speaker_folds(speakers, folds)
    raise ValueError(f"Unknown protocol {protocol!r}; expected one of {PROTOCOLS}.")


# ---------------------------------------------------------------------------------------------
# Cross-validation.


@dataclasses.dataclass
class ProtocolScore:
    """A method's cross-validated accuracy under one protocol.

    Args:
        mean: mean of the per-fold accuracies (fraction, 0-1).
        std: their standard deviation, ddof=1 (NaN with a single fold).
        fold_accuracies: one accuracy per fold that had test clips.
        num_clips: clips the method was evaluated on.
        num_folds: folds used.
        predictions: `[N]` predicted class of each clip in its test fold (-1 where not evaluated).
        confusion: `[K, K]` counts, rows = truth, pooled over folds.
    """

    mean: float
    std: float
    fold_accuracies: list[float]
    num_clips: int
    num_folds: int
    predictions: np.ndarray
    confusion: np.ndarray

    def to_dict(self) -> dict:
        return {
            "mean": self.mean,
            "std": None if math.isnan(self.std) else self.std,
            "fold_accuracies": list(self.fold_accuracies),
            "num_clips": self.num_clips,
            "num_folds": self.num_folds,
            "confusion": self.confusion.tolist(),
        }


def _fit_predict_linear(num_classes, seed):
    from kerasemo.models.probe import LinearProbe

    probe = LinearProbe(num_classes=num_classes)

    def fit_predict(x_train, y_train, x_test):
        probe.fit(x_train, y_train)
        return probe.predict_labels(x_test)

    return fit_predict


def _fit_predict_forest(num_classes, seed, trees=300):
    from sklearn.ensemble import RandomForestClassifier

    def fit_predict(x_train, y_train, x_test):
        forest = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=-1)
        forest.fit(x_train, y_train)
        return forest.predict(x_test).astype(np.int64)

    return fit_predict


def _fit_predict_majority(num_classes, seed):
    def fit_predict(x_train, y_train, x_test):
        counts = np.bincount(y_train, minlength=num_classes)
        return np.full(len(x_test), int(np.argmax(counts)), np.int64)

    return fit_predict


CLASSIFIERS: dict[str, Callable] = {
    "linear": _fit_predict_linear,
    "forest": _fit_predict_forest,
    "majority": _fit_predict_majority,
}


def cross_validate(
    features,
    labels,
    plan: FoldPlan,
    *,
    num_classes: int,
    classifier: str | Callable = "linear",
    valid=None,
    seed: int = 0,
) -> ProtocolScore:
    """Fits a classifier on each training fold and scores it on the matching test fold.

    Args:
        features: `[N, D]` features.
        labels: `[N]` integer labels in ``0..num_classes - 1``.
        plan: the folds (`make_folds`).
        num_classes: K.
        classifier: ``"linear"`` (`LinearProbe`), ``"forest"`` (seeded random forest),
            ``"majority"``, or a callable ``(x_train, y_train, x_test) -> predictions``.
        valid: optional `[N]` bool mask of clips that have features; the others are left out of
            both training and test folds (a fold with no valid test clip is not scored).
        seed: seed of the random forest.

    Returns:
        A `ProtocolScore`.

    Example:

    >>> x = np.r_[np.zeros((20, 1)), np.ones((20, 1))]; y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    >>> cross_validate(x, y, random_folds(40, 4), num_classes=2).mean
    1.0
    """
    from kerasemo.evaluation.classification import confusion_matrix

    features = np.asarray(features)
    labels = np.asarray(labels).astype(np.int64)
    num_samples = len(labels)
    valid = np.ones(num_samples, bool) if valid is None else np.asarray(valid, bool)
    fit_predict = classifier if callable(classifier) else CLASSIFIERS[classifier](num_classes, seed)
    predictions = np.full(num_samples, -1, np.int64)
    accuracies = []
    for train, test in plan.splits(num_samples):
        train, test = train[valid[train]], test[valid[test]]
        if len(test) == 0 or len(train) == 0:
            continue
        predicted = np.asarray(fit_predict(features[train], labels[train], features[test]))
        predictions[test] = predicted
        accuracies.append(float(np.mean(predicted == labels[test])))
    evaluated = predictions >= 0
    confusion = confusion_matrix(labels[evaluated], predictions[evaluated], num_classes)
    mean = float(np.mean(accuracies)) if accuracies else float("nan")
    std = float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else float("nan")
    return ProtocolScore(mean, std, accuracies, int(evaluated.sum()), len(accuracies), predictions, confusion)


# ---------------------------------------------------------------------------------------------
# Fingerprints and the cache.


def model_fingerprint(model) -> str:
    """SHA-256 of a model file's bytes, or of an in-memory model's config and weights.

    Example:

    >>> len(model_fingerprint(__file__))
    64
    """
    digest = hashlib.sha256()
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    digest.update(type(model).__name__.encode())
    try:
        digest.update(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    except (NotImplementedError, TypeError):
        pass
    for weight in model.get_weights():
        array = np.ascontiguousarray(weight)
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def files_fingerprint(paths: Sequence[str | None], root: str | os.PathLike) -> list:
    """(path relative to root, size, mtime_ns) of each file (None entries stay None)."""
    root = pathlib.Path(root)
    entries = []
    for path in paths:
        if path is None:
            entries.append(None)
            continue
        stat = os.stat(path)
        try:
            relative = pathlib.Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            relative = str(pathlib.Path(path).resolve())
        entries.append([relative, stat.st_size, stat.st_mtime_ns])
    return entries


def cache_key(*parts) -> str:
    """SHA-256 of the JSON of `parts` (what identifies a cached feature set)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclasses.dataclass
class FeatureSet:
    """Per-clip features of one method.

    Args:
        features: `[N, D]` float32 (rows of invalid clips are zeros).
        valid: `[N]` bool: the clip has features.
        errors: `{clip index: message}` for clips that failed.
        from_cache: whether the features were loaded from the cache.
        seconds: time spent computing (0 when cached).
    """

    features: np.ndarray
    valid: np.ndarray
    errors: dict[int, str]
    from_cache: bool = False
    seconds: float = 0.0


def _cache_path(cache_dir, kind: str, dataset: str, key: str) -> pathlib.Path:
    return pathlib.Path(cache_dir) / f"{kind}-{dataset}-{key[:20]}.npz"


def cached_features(
    cache_dir: str | os.PathLike | None,
    kind: str,
    dataset: str,
    key: str,
    compute: Callable[[], FeatureSet],
) -> FeatureSet:
    """Loads a `FeatureSet` from ``<cache_dir>/<kind>-<dataset>-<key>.npz`` or computes and stores it.

    Args:
        cache_dir: cache folder (created), or None to always compute.
        kind: ``"student"``, ``"teacher"`` or ``"acoustic"``.
        dataset: the dataset's name.
        key: `cache_key` of everything the features depend on.
        compute: called on a miss.

    Returns:
        The `FeatureSet` (``from_cache`` tells which happened).
    """
    if cache_dir is None:
        return compute()
    path = _cache_path(cache_dir, kind, dataset, key)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                if str(stored["key"]) == key:
                    errors = json.loads(str(stored["errors"]))
                    logger.info("%s features: loaded from cache %s", kind, path)
                    return FeatureSet(
                        stored["features"].astype(np.float32),
                        stored["valid"].astype(bool),
                        {int(k): v for k, v in errors.items()},
                        from_cache=True,
                    )
        except (OSError, ValueError, KeyError) as err:
            logger.warning("Ignoring unreadable cache file %s (%s); recomputing.", path, err)
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.stem + ".tmp.npz")
    np.savez(
        temporary,
        key=np.asarray(key),
        features=result.features.astype(np.float32),
        valid=result.valid,
        errors=np.asarray(json.dumps({str(k): v for k, v in result.errors.items()})),
    )
    os.replace(temporary, path)
    logger.info("%s features: cached in %s", kind, path)
    return result


# ---------------------------------------------------------------------------------------------
# Student embeddings.


def load_model(model):
    """Returns `model` itself, or loads a ``.keras`` file (kerasemo's classes registered)."""
    if not isinstance(model, (str, os.PathLike)):
        return model
    import keras

    import kerasemo.models  # noqa: F401  (registers the student)
    import kerasemo.models.probe  # noqa: F401
    import kerasemo.models.teacher  # noqa: F401

    path = pathlib.Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"Model file {str(path)!r} does not exist.")
    if path.suffix != ".keras":
        raise ValueError(
            f"Expected a .keras model file; received {str(path)!r}. Save models with "
            "model.save('name.keras')."
        )
    return keras.saving.load_model(path, compile=False)


def student_input_spec(student) -> dict:
    """How to feed a student: its input bins (512 or 257), whether it normalises, min frames.

    Raises:
        ValueError: for a model whose input is not ``[batch, 512 or 257, frames]``.
    """
    from kerasemo.models.student import MIN_INPUT_FRAMES

    shape = tuple(student.inputs[0].shape) if getattr(student, "inputs", None) else ()
    if len(shape) != 3 or shape[1] not in (257, 512):
        raise ValueError(
            "The student must take [batch, bins, frames] spectrograms with 512 (mirrored) or 257 "
            f"(rfft) bins; received a model with input shape {shape}."
        )
    return {
        "bins": int(shape[1]),
        "mirror": int(shape[1]) == 512,
        "normalize_outside": not bool(getattr(student, "normalize_input", True)),
        "min_frames": int(getattr(student, "min_input_frames", MIN_INPUT_FRAMES)),
        "fixed_frames": shape[2],
    }


def compute_student_embeddings(
    student,
    paths: Sequence[str],
    *,
    durations: Sequence[float] | None = None,
    batch_frames: int = 4000,
    max_pad_fraction: float = 0.0,
    progress: bool = True,
) -> FeatureSet:
    """Runs the student on each full-length utterance: `[N, num_classes]` logits.

    Each file is decoded to 16 kHz mono (`load_audio`), turned into the recipe's linear
    magnitude spectrogram (`VGGVoxSpectrogram`, no dither, 512 bins if the student takes 512,
    257 if it takes 257; not normalised when the student normalises inside) and zero-padded to
    the student's minimum length (63 frames) if shorter. Clips are processed in order of length
    and batched while the batch holds at most `batch_frames` frames; by default only clips with
    the same number of frames share a batch (``max_pad_fraction=0``), so every clip is seen
    exactly as on its own (padding changes the per-bin normalisation and the average pool).
    ``max_pad_fraction=0.05`` lets clips within 5 % of each other's length be padded into one
    batch (faster on an accelerator, approximate).

    Args:
        student: a Keras model ``[batch, bins, frames] -> [batch, C]``.
        paths: audio or video files.
        durations: optional seconds per file (used only to order the work).
        batch_frames: frames per batch at most (a single longer clip runs alone).
        max_pad_fraction: see above.
        progress: show a tqdm progress bar.

    Returns:
        A `FeatureSet`; files that fail to decode are invalid, with the error message.
    """
    import keras
    from tqdm import tqdm

    from kerasemo.audio import AudioDecodeError, VGGVoxSpectrogram, load_audio
    from kerasemo.models.calls import predict_batch

    spec = student_input_spec(student)
    frontend = VGGVoxSpectrogram(mirror=spec["mirror"], normalize=spec["normalize_outside"])
    num_outputs = int(student.outputs[0].shape[-1])
    count = len(paths)
    features = np.zeros((count, num_outputs), np.float32)
    valid = np.zeros(count, bool)
    errors: dict[int, str] = {}
    if durations is None:
        order = np.arange(count)
    else:
        lengths = np.nan_to_num(np.asarray(durations, np.float64), nan=0.0)
        order = np.argsort(lengths, kind="stable")
    pending: list[tuple[int, np.ndarray]] = []
    start = time.perf_counter()

    def flush():
        if not pending:
            return
        frames = max(s.shape[1] for _, s in pending)
        batch = np.zeros((len(pending), spec["bins"], frames), np.float32)
        for row, (_, s) in enumerate(pending):
            batch[row, :, : s.shape[1]] = s
        logits = predict_batch(student, batch)
        for row, (index, _) in enumerate(pending):
            features[index] = logits[row]
            valid[index] = True
        pending.clear()

    bar = tqdm(total=count, desc="student embeddings", unit="clip", disable=not progress, leave=False)
    for index in order:
        path = paths[index]
        try:
            waveform = load_audio(path)
        except (AudioDecodeError, FileNotFoundError) as err:
            errors[int(index)] = str(err).split("\n")[0]
            bar.update(1)
            continue
        spectrogram = keras.ops.convert_to_numpy(frontend(waveform[None, :]))[0]
        frames = spectrogram.shape[1]
        target = max(frames, spec["min_frames"])
        if spec["fixed_frames"] is not None:
            target = int(spec["fixed_frames"])
            spectrogram = spectrogram[:, :target]
        if spectrogram.shape[1] < target:
            spectrogram = np.pad(spectrogram, ((0, 0), (0, target - spectrogram.shape[1])))
        if pending:
            longest = max(max(s.shape[1] for _, s in pending), target)
            shortest = min(min(s.shape[1] for _, s in pending), target)
            fits = (longest - shortest) <= max_pad_fraction * longest
            fits = fits and (len(pending) + 1) * longest <= batch_frames
            if not fits:
                flush()
        pending.append((int(index), spectrogram))
        if len(pending) * target >= batch_frames:
            flush()
        bar.update(1)
    flush()
    bar.close()
    return FeatureSet(features, valid, errors, seconds=time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# Teacher on faces.


def sample_video_frames(
    path: str | os.PathLike,
    *,
    stride: int = 6,
    max_frames: int = 48,
    crop: str = "center",
) -> np.ndarray:
    """Decodes one frame in every `stride` of a video (PyAV) as uint8 RGB face crops.

    Args:
        path: a video file (avi, mp4, ...).
        stride: keep decoded frames 0, stride, 2 stride, ... (6: the paper's 0.24 s at 25 fps).
        max_frames: at most this many frames, spread evenly over the clip.
        crop: ``"center"`` (the centred square of side min(height, width): acted sets film one
            frontal face, and keeps its aspect ratio) or ``"full"`` (the whole frame; the
            teacher resizes it to a square).

    Returns:
        `[F, S, S, 3]` (``"center"``) or `[F, H, W, 3]` uint8 frames, F >= 1.

    Raises:
        FileNotFoundError: if the file does not exist.
        kerasemo.data.frames.FrameReadError: if it has no video stream, no frame, or FFmpeg fails.
    """
    import av

    from kerasemo.data.frames import FrameReadError

    if crop not in ("center", "full"):
        raise ValueError(f"crop must be 'center' or 'full'; received {crop!r}.")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Video file not found: '{path}'.")
    kept = []
    try:
        with av.open(path, metadata_errors="replace") as container:
            if not container.streams.video:
                raise FrameReadError(f"'{path}' has no video stream; cannot read face frames.")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for number, frame in enumerate(container.decode(stream)):
                if number % stride:
                    continue
                image = frame.to_ndarray(format="rgb24")
                if crop == "center":
                    height, width = image.shape[:2]
                    side = min(height, width)
                    top, left = (height - side) // 2, (width - side) // 2
                    image = np.ascontiguousarray(image[top : top + side, left : left + side])
                kept.append(image)
    except av.error.FFmpegError as err:
        raise FrameReadError(f"FFmpeg failed to decode the video of '{path}': {err}.") from err
    if not kept:
        raise FrameReadError(f"'{path}' has a video stream but no decodable frame.")
    if len(kept) > max_frames:
        chosen = np.unique(np.round(np.linspace(0, len(kept) - 1, max_frames)).astype(int))
        kept = [kept[i] for i in chosen]
    return np.stack(kept)


def compute_teacher_features(
    teacher,
    video_paths: Sequence[str | None],
    *,
    stride: int = 6,
    max_frames: int = 48,
    crop: str = "center",
    pooling: str = "max",
    batch_size: int = 32,
    progress: bool = True,
) -> FeatureSet:
    """The teacher's frame logits on each clip's video, pooled over the clip (max by default).

    Args:
        teacher: Keras model ``[batch, S, S, 3]`` 0-255 RGB -> ``[batch, 8]`` logits.
        video_paths: one video per clip, or None for clips without video (left invalid).
        stride, max_frames, crop: see `sample_video_frames`.
        pooling: ``"max"`` (the paper) or ``"mean"`` over the frames.
        batch_size: crops per teacher forward pass.
        progress: show a progress bar.

    Returns:
        A `FeatureSet` of `[N, 8]` pooled logits.
    """
    from tqdm import tqdm

    from kerasemo.data.frames import FrameReadError
    from kerasemo.models.teacher_inference import aggregate_frame_logits, predict_frame_logits

    num_outputs = int(teacher.outputs[0].shape[-1])
    count = len(video_paths)
    features = np.zeros((count, num_outputs), np.float32)
    valid = np.zeros(count, bool)
    errors: dict[int, str] = {}
    start = time.perf_counter()
    todo = [i for i, p in enumerate(video_paths) if p is not None]
    for index in tqdm(todo, desc="teacher on faces", unit="clip", disable=not progress, leave=False):
        try:
            frames = sample_video_frames(
                video_paths[index], stride=stride, max_frames=max_frames, crop=crop
            )
        except (FrameReadError, FileNotFoundError) as err:
            errors[index] = str(err)
            continue
        logits = predict_frame_logits(teacher, frames, batch_size=batch_size)
        features[index] = aggregate_frame_logits(logits, pooling)
        valid[index] = True
    return FeatureSet(features, valid, errors, seconds=time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# Acoustic baseline.


_SMILE_PRELOADED = False


def _preload_smile_library() -> None:
    """Loads openSMILE's C library with ``RTLD_DEEPBIND`` before `opensmile` loads it (Linux).

    openSMILE's ``libSMILEapi.so`` and TensorFlow's ``libtensorflow_framework.so.2`` both contain
    Ooura's FFT routines under the same global names (``cftf1st``, ``rftbsub``, ``dctsub``, ...).
    Once TensorFlow is loaded, the dynamic linker binds openSMILE's calls to TensorFlow's copies
    and openSMILE crashes the process (segmentation fault) on its first feature extraction.
    Loading the library first with ``RTLD_DEEPBIND`` makes it resolve its own symbols; the
    `opensmile` package's own ``cdll.LoadLibrary`` of the same file then reuses that handle.
    """
    import ctypes
    import importlib.util
    import sys

    global _SMILE_PRELOADED
    if _SMILE_PRELOADED:
        return
    if "opensmile" in sys.modules:
        _SMILE_PRELOADED = True  # warn once
        if "tensorflow" in sys.modules and hasattr(os, "RTLD_DEEPBIND"):
            logger.warning(
                "opensmile was imported before kerasemo could load its library safely; if it "
                "crashes beside TensorFlow, let kerasemo import it (do not import opensmile first)."
            )
        return
    if not hasattr(os, "RTLD_DEEPBIND"):
        return
    spec = importlib.util.find_spec("opensmile")
    if spec is None or spec.origin is None:
        return
    for library in sorted(pathlib.Path(spec.origin).parent.glob("core/bin/*/libSMILEapi.so")):
        try:
            ctypes.CDLL(str(library), mode=os.RTLD_LOCAL | os.RTLD_DEEPBIND | os.RTLD_NOW)
        except OSError:  # another platform's build
            continue
    _SMILE_PRELOADED = True


def _opensmile():
    try:
        _preload_smile_library()
        import opensmile
    except ImportError as err:
        raise AcousticBaselineUnavailable(
            "The acoustic baseline needs the optional 'opensmile' package: "
            "pip install kerasemo[acoustic] (or pip install opensmile)."
        ) from err
    return opensmile


def compute_egemaps(paths: Sequence[str], *, progress: bool = True) -> FeatureSet:
    """eGeMAPS v02 functionals (88 features) of each file, from 16 kHz mono audio.

    Args:
        paths: audio or video files.
        progress: show a progress bar.

    Returns:
        A `FeatureSet` of `[N, 88]` features.

    Raises:
        AcousticBaselineUnavailable: if ``opensmile`` is not installed.
    """
    from tqdm import tqdm

    from kerasemo.audio import AudioDecodeError, load_audio

    opensmile = _opensmile()
    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    width = len(smile.feature_names)
    features = np.zeros((len(paths), width), np.float32)
    valid = np.zeros(len(paths), bool)
    errors: dict[int, str] = {}
    start = time.perf_counter()
    for index, path in enumerate(tqdm(paths, desc="eGeMAPS", unit="clip", disable=not progress, leave=False)):
        try:
            waveform = load_audio(path)
            values = smile.process_signal(waveform, 16000).to_numpy(np.float32).reshape(-1)
        except (AudioDecodeError, FileNotFoundError, RuntimeError, ValueError) as err:
            errors[index] = str(err).split("\n")[0]
            continue
        if values.shape[0] != width or not np.all(np.isfinite(values)):
            errors[index] = "openSMILE returned non-finite features"
            continue
        features[index] = values
        valid[index] = True
    return FeatureSet(features, valid, errors, seconds=time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# Results.


@dataclasses.dataclass
class MethodResult:
    """One row of the results table.

    Args:
        method: one of `METHODS`.
        title: what the row is.
        modality: ``"A"`` (audio), ``"V"`` (faces) or ``"-"``.
        scores: protocol -> `ProtocolScore` (absent protocols were not run for this row).
        note: why a row has no score, or on how many clips it ran.
        chance: for the chance row, 1/K.
    """

    method: str
    title: str
    modality: str
    scores: dict[str, ProtocolScore] = dataclasses.field(default_factory=dict)
    note: str = ""
    chance: float | None = None

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "title": self.title,
            "modality": self.modality,
            "note": self.note,
            "chance": self.chance,
            "scores": {p: s.to_dict() for p, s in self.scores.items()},
        }


@dataclasses.dataclass
class ProbeResults:
    """Everything one probe run measured (see `run_probe`)."""

    dataset: str
    root: str
    classes: tuple[str, ...]
    class_counts: dict[str, int]
    num_clips: int
    num_speakers: int
    num_with_video: int
    protocols: tuple[str, ...]
    fold_descriptions: dict[str, str]
    folds: int
    seed: int
    methods: list[MethodResult]
    skipped: dict
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    cache: dict[str, bool] = dataclasses.field(default_factory=dict)

    def method(self, name: str) -> MethodResult:
        for row in self.methods:
            if row.method == name:
                return row
        raise KeyError(f"No method {name!r}; rows are {[m.method for m in self.methods]}.")

    def score(self, method: str, protocol: str) -> tuple[float, float] | None:
        """(mean, std) accuracy of a method under a protocol, or None if it has none."""
        row = self.method(method)
        if method == "chance":
            return (row.chance, float("nan"))
        score = row.scores.get(protocol)
        return None if score is None else (score.mean, score.std)

    def to_dict(self) -> dict:
        paper = PAPER_TABLE5.get(self.dataset)
        return {
            "dataset": self.dataset,
            "root": self.root,
            "classes": list(self.classes),
            "class_counts": self.class_counts,
            "num_clips": self.num_clips,
            "num_speakers": self.num_speakers,
            "num_with_video": self.num_with_video,
            "protocols": list(self.protocols),
            "fold_descriptions": self.fold_descriptions,
            "folds": self.folds,
            "seed": self.seed,
            "std_ddof": 1,
            "methods": [m.to_dict() for m in self.methods],
            "paper_table5": None if paper is None else {
                k: {"mean": v[0], "std": v[1]} for k, v in paper.items()
            },
            "skipped": self.skipped,
            "files": self.files,
            "timings_seconds": self.timings,
            "loaded_from_cache": self.cache,
        }

    def to_markdown(self) -> str:
        paper = PAPER_TABLE5.get(self.dataset)
        header = ["method", "modality"] + [f"{p} (mean ± std, %)" for p in self.protocols]
        if paper:
            header.append("paper Table 5 (%)")
        header.append("note")
        lines = [
            f"# Linear probe on {self.dataset}",
            "",
            f"{self.num_clips} clips, {len(self.classes)} classes "
            f"({', '.join(f'{c} {self.class_counts[c]}' for c in self.classes)}), "
            f"{self.num_speakers} speakers, {self.num_with_video} clips with video. Root: "
            f"`{self.root}`.",
            "",
        ]
        for protocol in self.protocols:
            lines.append(f"- **{protocol}**: {self.fold_descriptions.get(protocol, 'not run')}.")
        lines += [
            "- Accuracy per fold, then mean ± standard deviation over folds (ddof = 1, as the "
            "authors' MATLAB `std`).",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 3) + ["---"]) + "|",
        ]
        for row in self.methods:
            cells = [row.title, row.modality]
            for protocol in self.protocols:
                if row.method == "chance":
                    cells.append(f"{100 * row.chance:.1f}")
                    continue
                score = row.scores.get(protocol)
                if score is None:
                    cells.append("n/a")
                elif math.isnan(score.std):
                    cells.append(f"{100 * score.mean:.1f}")
                else:
                    cells.append(f"{100 * score.mean:.1f} ± {100 * score.std:.1f}")
            if paper:
                ref = paper.get(row.method)
                cells.append(
                    "" if ref is None else (f"{ref[0]:.1f}" if ref[1] is None else f"{ref[0]:.1f} ± {ref[1]:.1f}")
                )
            cells.append(row.note)
            lines.append("| " + " | ".join(cells) + " |")
        if paper:
            lines += [
                "",
                "Paper (Albanie et al. 2018, Table 5): 10-fold cross-validation over clips "
                "(`random10`); the acoustic reference is Noroozi et al.'s 88 audio features + "
                "random forest (not eGeMAPS).",
            ]
        lines += ["", "## Skipped files", ""]
        skipped = self.skipped
        if not skipped.get("counts"):
            lines.append("Nothing skipped.")
        else:
            lines += ["| reason | files | examples |", "|---|---:|---|"]
            for reason, count in sorted(skipped["counts"].items(), key=lambda kv: -kv[1]):
                examples = "; ".join(e.replace("|", "\\|") for e in skipped["examples"].get(reason, []))
                lines.append(f"| {reason} | {count} | {examples} |")
        return "\n".join(lines) + "\n"


def _normalise_protocols(protocol) -> tuple[str, ...]:
    if protocol in (None, "both"):
        return PROTOCOLS
    if isinstance(protocol, str):
        protocol = (protocol,)
    protocols = tuple(dict.fromkeys(protocol))
    for name in protocols:
        if name not in PROTOCOLS:
            raise ValueError(f"Unknown protocol {name!r}; expected one of {PROTOCOLS} or 'both'.")
    if not protocols:
        raise ValueError("At least one protocol is needed.")
    return protocols


def run_probe(
    dataset: str,
    root: str | os.PathLike,
    student,
    *,
    teacher=None,
    protocol: str | Sequence[str] = "both",
    folds: int = 10,
    seed: int = 0,
    out_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
    acoustic: bool = True,
    frame_stride: int = 6,
    pooling: str = "max",
    max_video_frames: int = 48,
    face_crop: str = "center",
    forest_trees: int = 300,
    batch_frames: int = 4000,
    max_pad_fraction: float = 0.0,
    ravdess_calm: str = "drop",
    include_song: bool = False,
    experiment=None,
    progress: bool = True,
) -> ProbeResults:
    """Probes a student (and the baselines) on a labelled set and writes the results.

    Args:
        dataset: ``rml``, ``enterface``, ``cremad``, ``ravdess`` or ``csv``.
        root: the dataset folder (the manifest file for ``csv``).
        student: a ``.keras`` path or a Keras model ``[batch, bins, frames] -> [batch, 8]``.
        teacher: optional ``.keras`` path or Keras face model; used on clips with video.
        protocol: ``"random10"``, ``"speaker"``, ``"both"`` (default) or a sequence; the first
            is the primary one, drawn in ``confusion.png``.
        folds: folds per protocol (10; the speaker protocol uses at most one per speaker).
        seed: seed of the random folds (0, as the authors) and of the random forest.
        out_dir: where ``results.md``, ``results.json``, ``predictions.csv`` and
            ``confusion.png`` (and ``config.toml`` when `experiment` is given) are written.
        cache_dir: feature cache folder, or None for no cache (default ``runs/cache``).
        acoustic: run the eGeMAPS + random-forest baseline (needs ``opensmile``).
        frame_stride, pooling, max_video_frames, face_crop: teacher frame sampling and pooling
            (`sample_video_frames`, `compute_teacher_features`).
        forest_trees: trees of the random forest.
        batch_frames, max_pad_fraction: student batching (`compute_student_embeddings`).
        ravdess_calm, include_song: RAVDESS reader options (`read_dataset`).
        experiment: optional `kerasemo.config.ExperimentConfig`, saved as ``config.toml``.
        progress: show progress bars.

    Returns:
        The `ProbeResults` (also written to `out_dir`).

    Raises:
        FileNotFoundError: for a missing dataset folder or model file.
        ValueError: for an unknown dataset or protocol, no usable clips, fewer than 2 classes,
            or too few clips or speakers for the folds.
    """
    from kerasemo.data.acted import SkipReport, present_classes, read_dataset
    from kerasemo.evaluation.classification import plot_confusion_matrix

    protocols = _normalise_protocols(protocol)
    out_dir = pathlib.Path(out_dir)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    clips, report = read_dataset(
        dataset, root, ravdess_calm=ravdess_calm, include_song=include_song
    )
    timings["read"] = time.perf_counter() - started
    if len(clips) == 0:
        raise ValueError(
            f"No usable clips in {report.root} for dataset {dataset!r}.\n{report.summary()}"
        )
    data_root = report.root if dataset != "csv" else str(pathlib.Path(report.root).parent)

    # --- Student embeddings (decides which clips have usable audio) ---
    student_model = load_model(student)
    spec = student_input_spec(student_model)
    paths = clips["path"].tolist()
    file_list = files_fingerprint(paths, data_root)
    settings = {"spec": spec, "batch_frames": batch_frames, "max_pad_fraction": max_pad_fraction}
    key = cache_key(EMBEDDING_VERSION, model_fingerprint(student), dataset, data_root, file_list, settings)
    student_set = cached_features(
        cache_dir,
        "student",
        dataset,
        key,
        lambda: compute_student_embeddings(
            student_model,
            paths,
            durations=clips["duration"].to_numpy(),
            batch_frames=batch_frames,
            max_pad_fraction=max_pad_fraction,
            progress=progress,
        ),
    )
    timings["student_embeddings"] = student_set.seconds
    failed = SkipReport(dataset, report.root)
    for index, message in sorted(student_set.errors.items()):
        failed.add("audio failed to decode at extraction", clips.loc[index, "relpath"], message)
    report.merge(failed)
    keep = student_set.valid
    clips = clips[keep].reset_index(drop=True)
    student_features = student_set.features[keep]
    if len(clips) == 0:
        raise ValueError(f"No clip of {report.root} could be decoded.\n{report.summary()}")

    classes = present_classes(clips)
    if len(classes) < 2:
        raise ValueError(
            f"{dataset}: the clips hold only {len(classes)} class ({classes}); a probe needs 2 or more."
        )
    class_index = {c: i for i, c in enumerate(classes)}
    labels = clips["label"].map(class_index).to_numpy(np.int64)
    num_classes = len(classes)
    speakers = clips["speaker"].tolist()
    known_speakers = [s for s in speakers if s is not None]

    plans: dict[str, FoldPlan | None] = {}
    plan_notes: dict[str, str] = {}
    for name in protocols:
        try:
            plans[name] = make_folds(name, len(clips), folds=folds, seed=seed, speakers=speakers)
        except ValueError as err:
            if name == protocols[0] or name == "random10":
                raise
            plans[name] = None
            plan_notes[name] = str(err)
            logger.warning("%s protocol not run: %s", name, err)

    rows: list[MethodResult] = [
        MethodResult("chance", _TITLES["chance"], "-", chance=1.0 / num_classes)
    ]

    def evaluate(method, features, classifier, valid=None, note=""):
        row = MethodResult(method, _TITLES[method], _MODALITY[method], note=note)
        for name, plan in plans.items():
            if plan is not None:
                row.scores[name] = cross_validate(
                    features, labels, plan, num_classes=num_classes, classifier=classifier,
                    valid=valid, seed=seed,
                )
        return row

    rows.append(evaluate("majority", np.zeros((len(clips), 1)), "majority"))

    # --- Acoustic baseline ---
    acoustic_row = MethodResult("acoustic", _TITLES["acoustic"], "A")
    acoustic_cached = False
    if not acoustic:
        acoustic_row.note = "not run (acoustic=False / --no-acoustic)"
    else:
        try:
            opensmile = _opensmile()
        except AcousticBaselineUnavailable as err:
            acoustic_row.note = ACOUSTIC_INSTALL_HINT
            logger.warning("%s", err)
        else:
            acoustic_paths = clips["path"].tolist()
            acoustic_key = cache_key(
                ACOUSTIC_VERSION, getattr(opensmile, "__version__", "?"), dataset, data_root,
                files_fingerprint(acoustic_paths, data_root),
            )
            acoustic_set = cached_features(
                cache_dir, "acoustic", dataset, acoustic_key,
                lambda: compute_egemaps(acoustic_paths, progress=progress),
            )
            acoustic_cached = acoustic_set.from_cache
            timings["acoustic_features"] = acoustic_set.seconds
            note = "" if acoustic_set.valid.all() else (
                f"on {int(acoustic_set.valid.sum())} of {len(clips)} clips (openSMILE failed on the others)"
            )
            start = time.perf_counter()
            acoustic_row = evaluate(
                "acoustic",
                acoustic_set.features,
                lambda a, b, c: _fit_predict_forest(num_classes, seed, forest_trees)(a, b, c),
                valid=acoustic_set.valid,
                note=note,
            )
            timings["acoustic_cross_validation"] = time.perf_counter() - start
    rows.append(acoustic_row)

    # --- Student ---
    start = time.perf_counter()
    rows.append(evaluate("student", student_features, "linear"))
    timings["student_cross_validation"] = time.perf_counter() - start

    # --- Teacher on faces ---
    video_paths = [p if isinstance(p, str) and p else None for p in clips["video_path"].tolist()]
    num_with_video = sum(p is not None for p in video_paths)
    teacher_row = MethodResult("teacher", _TITLES["teacher"], "V")
    teacher_cached = False
    if num_with_video == 0:
        teacher_row.note = "no video in this set"
    elif teacher is None:
        teacher_row.note = "not run: pass a teacher (--teacher PATH)"
    else:
        teacher_model = load_model(teacher)
        video_settings = {
            "stride": frame_stride, "max_frames": max_video_frames, "crop": face_crop, "pooling": pooling,
        }
        teacher_key = cache_key(
            TEACHER_VERSION, model_fingerprint(teacher), dataset, data_root,
            files_fingerprint(video_paths, data_root), video_settings,
        )
        teacher_set = cached_features(
            cache_dir, "teacher", dataset, teacher_key,
            lambda: compute_teacher_features(
                teacher_model, video_paths, stride=frame_stride, max_frames=max_video_frames,
                crop=face_crop, pooling=pooling, progress=progress,
            ),
        )
        teacher_cached = teacher_set.from_cache
        timings["teacher_features"] = teacher_set.seconds
        used = int(teacher_set.valid.sum())
        note = "" if used == len(clips) else f"on the {used} of {len(clips)} clips with decodable video"
        if teacher_set.errors:
            note += f"; {len(teacher_set.errors)} video(s) failed to decode"
            for index, message in list(teacher_set.errors.items())[:5]:
                logger.warning("teacher: %s: %s", clips.loc[index, "relpath"], message)
        if used == 0:
            teacher_row.note = "no clip's video could be decoded"
        else:
            teacher_row = evaluate("teacher", teacher_set.features, "linear", valid=teacher_set.valid, note=note.lstrip("; "))
    rows.append(teacher_row)

    for name, message in plan_notes.items():
        for row in rows:
            if row.method != "chance":
                row.note = (row.note + "; " if row.note else "") + f"{name}: {message}"

    results = ProbeResults(
        dataset=dataset,
        root=report.root,
        classes=classes,
        class_counts={c: int((clips["label"] == c).sum()) for c in classes},
        num_clips=len(clips),
        num_speakers=len(set(known_speakers)),
        num_with_video=num_with_video,
        protocols=tuple(p for p in protocols if plans.get(p) is not None),
        fold_descriptions={p: plan.description for p, plan in plans.items() if plan is not None},
        folds=folds,
        seed=seed,
        methods=rows,
        skipped=report.to_dict(),
        timings=timings,
        cache={"student": student_set.from_cache, "acoustic": acoustic_cached, "teacher": teacher_cached},
    )
    _write_outputs(results, clips, labels, plans, out_dir, experiment, plot_confusion_matrix)
    results.timings["total"] = time.perf_counter() - started
    (out_dir / "results.json").write_text(json.dumps(results.to_dict(), indent=2), encoding="utf-8")
    return results


def _write_outputs(results, clips, labels, plans, out_dir, experiment, plot_confusion_matrix):
    out_dir.mkdir(parents=True, exist_ok=True)
    primary = results.protocols[0]
    files = {
        "results_md": str(out_dir / "results.md"),
        "results_json": str(out_dir / "results.json"),
        "predictions_csv": str(out_dir / "predictions.csv"),
    }
    # Per-clip predictions under every protocol.
    table = clips[["relpath", "label", "speaker"]].copy()
    for name in results.protocols:
        table[f"fold_{name}"] = plans[name].fold_of(len(clips))
        for row in results.methods:
            score = row.scores.get(name)
            if score is not None and row.method != "majority":
                table[f"{row.method}_{name}"] = [
                    results.classes[p] if p >= 0 else "" for p in score.predictions
                ]
    table.to_csv(out_dir / "predictions.csv", index=False)

    # Teacher and student side by side (Figure 5), row-normalised, truth as rows.
    panels, titles = [], []
    for method in ("teacher", "student"):
        score = results.method(method).scores.get(primary)
        if score is not None:
            panels.append(score.confusion)
            titles.append(
                f"{'teacher (faces)' if method == 'teacher' else 'student (speech)'}: "
                f"{100 * score.mean:.1f}% ({primary})"
            )
    if panels:
        plot_confusion_matrix(panels, results.classes, out_dir / "confusion.png", titles=titles)
        files["confusion_png"] = str(out_dir / "confusion.png")
    if experiment is not None:
        from kerasemo import config as config_lib

        files["config_toml"] = str(config_lib.save_config(experiment, out_dir))
    results.files = files
    (out_dir / "results.md").write_text(results.to_markdown(), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(results.to_dict(), indent=2), encoding="utf-8")
