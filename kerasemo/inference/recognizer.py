"""`EmotionRecognizer`: one clip, a batch of clips, or a timeline over a long recording, with any
kerasemo model and optionally a probe head."""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np

from kerasemo import emotions
from kerasemo.audio.decode import audio_duration, load_audio, stream_audio
from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.checks import check_positive_int, check_positive_number
from kerasemo.export.contract import HEAD_PROBABILITIES, MIN_SAMPLES
from kerasemo.inference.backends import (
    Backend,
    KerasBackend,
    SavedModelBackend,
    TFLiteBackend,
    saved_model_dir,
)
from kerasemo.inference.heads import ProbeHead
from kerasemo.inference.results import EmotionPrediction, Timeline, TimelineWindow
from kerasemo.inference.waveforms import check_length, pad_batch, prepare_waveform
from kerasemo.inference.windows import (
    DEFAULT_HOP_SECONDS,
    array_blocks,
    iter_windows,
    window_and_hop_samples,
)

logger = logging.getLogger("kerasemo.inference")

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_MAX_CLIP_SECONDS = 30.0
"""Longest clip scored in one pass by the variable-length formats; longer ones are windowed."""
DEFAULT_BATCH_SIZE = 8
"""Clips or windows per model call."""


class EmotionRecognizer:
    """Scores speech emotion with an exported or trained kerasemo model.

    Build it with `from_path` (``.keras`` student, SavedModel folder or export folder,
    ``.tflite``; optionally a probe head folder) or `from_student` (an in-memory
    `VGGMStudent`). See the package docstring for the input rules and what one prediction
    covers.

    Args:
        backend: internal; use the constructors.
        source: a description of the model (its path).
        max_clip_seconds: the longest clip scored in one pass by the variable-length formats.
        head: a `ProbeHead` applied to the student's logits, or None (an export's built-in head,
            if it has one).

    Raises:
        ValueError: if `head` is given for a model that has a head built in.

    Example:

    >>> model = "saved_models/kerasemo/kerasemo_int8.tflite"
    >>> recognizer = EmotionRecognizer.from_path(model)  # doctest: +SKIP
    >>> recognizer.predict(np.zeros(32000, "float32")).probabilities.shape  # doctest: +SKIP
    (8,)
    """

    def __init__(
        self,
        backend: Backend,
        source: str,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
        head: ProbeHead | None = None,
    ):
        if head is not None and backend.head_classes is not None:
            raise ValueError(
                f"The model {source} has a probe head built in (classes "
                f"{list(backend.head_classes)}); drop the head {head.source} or pass a model "
                "exported without one."
            )
        self._backend = backend
        self._head = head
        self.source = source
        self.max_clip_seconds = check_positive_number(max_clip_seconds, "max_clip_seconds")

    # ---- construction -----------------------------------------------------------------------

    @classmethod
    def from_path(
        cls,
        path: PathLike,
        head: PathLike | None = None,
        *,
        num_threads: int | None = None,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    ) -> EmotionRecognizer:
        """Loads a model, detecting its format from the path, and optionally a probe head.

        Args:
            path: a ``.keras`` student file, a ``.tflite`` file, a SavedModel folder, or an
                export folder (``saved_models/NAME``; its highest numeric version is loaded).
            head: a folder written by ``probe --save-head`` (`ProbeHead`), for a model without
                a head built in; an export with a built-in head uses its own.
            num_threads: LiteRT CPU threads for ``.tflite`` (None: all logical cores).
            max_clip_seconds: see the class docstring.

        Returns:
            An `EmotionRecognizer`.

        Raises:
            FileNotFoundError: if `path` or `head` does not exist.
            ValueError: if the format is not recognised, the model is not a kerasemo model,
                `head` is not a probe head, or the model has a head built in already.
        """
        backend, source = _load_backend(pathlib.Path(path), num_threads)
        probe_head = None if head is None else ProbeHead.from_folder(head)
        logger.info("Loaded %s model from %s", backend.format, source)
        return cls(backend, source, max_clip_seconds, probe_head)

    @classmethod
    def from_student(
        cls,
        student: Any,
        *,
        run_config: Mapping[str, Any] | None = None,
        head: ProbeHead | None = None,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    ) -> EmotionRecognizer:
        """Wraps an in-memory `VGGMStudent` (rebuilt in float32 if it is mixed precision).

        Args:
            student: a `VGGMStudent`.
            run_config: its training run's resolved configuration (a dict, e.g.
                `kerasemo.export.read_run_config(run_dir)`), read for the window when the
                student was not built for fixed crops; None uses the paper's crop then.
            head: a `ProbeHead` on its logits, or None.
            max_clip_seconds: see the class docstring.
        """
        backend = KerasBackend(student, run_config)
        return cls(backend, f"<{type(student).__name__}>", max_clip_seconds, head)

    @property
    def format(self) -> str:
        """``"keras"``, ``"saved_model"`` or ``"tflite"``."""
        return self._backend.format

    @property
    def window_samples(self) -> int | None:
        """The model's fixed input length in samples (TFLite), or None for any length."""
        return self._backend.fixed_window

    @property
    def default_window_samples(self) -> int:
        """The timeline's default window: the model's own training crop, in samples.

        For a student, `kerasemo.export.model_window` (its ``input_frames``, else its run's
        ``frontend.crop_frames``); for an export, the window it recorded; the paper's 64,384
        samples (4.024 s) only when the model does not say.
        """
        return self._backend.window

    @property
    def classes(self) -> tuple[str, ...]:
        """The output order: `kerasemo.emotions.CLASSES`."""
        return emotions.CLASSES

    @property
    def head_classes(self) -> tuple[str, ...] | None:
        """The probe head's classes (given or built in), or None without a head."""
        return self._head.classes if self._head is not None else self._backend.head_classes

    # ---- clips ------------------------------------------------------------------------------

    def predict(self, audio: Any, *, sample_rate: int = SAMPLE_RATE) -> EmotionPrediction:
        """Scores one clip: a waveform or an audio/video file.

        Args:
            audio: a 1-D waveform (or 2-D with channels, averaged), or a file path (any format
                `kerasemo.audio.load_audio` reads).
            sample_rate: the rate of an array `audio` (resampled to 16 kHz when different);
                ignored for files, which are decoded at 16 kHz.

        Returns:
            An `EmotionPrediction` (with the head's probabilities and label if there is a head).

        Raises:
            TypeError, ValueError: for bad arrays (see `prepare_waveform`), empty input or input
                shorter than `MIN_CLIP_SECONDS`.
            FileNotFoundError, IsADirectoryError, AudioDecodeError: for a file that cannot be
                decoded.

        Example:

        >>> recognizer.predict("clip.wav").to_dict()["dominant"]  # doctest: +SKIP
        'happiness'
        """
        return self.predict_batch([audio], sample_rate=sample_rate)[0]

    def predict_batch(
        self,
        clips: Sequence[Any],
        *,
        sample_rate: int = SAMPLE_RATE,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> list[EmotionPrediction]:
        """Scores several clips; each gets the answer `predict` gives it alone.

        Clips short enough for one pass are sorted by length and scored `batch_size` at a time,
        zero-padded to the longest of their batch with their lengths (padding changes nothing);
        longer ones are the mean of their timeline windows.

        Args:
            clips: waveforms and/or file paths, as `predict` takes them.
            sample_rate: the rate of the arrays among `clips`.
            batch_size: clips per model call.

        Returns:
            One `EmotionPrediction` per clip, in order.

        Raises:
            The errors of `predict`, for the first clip that has one.

        Example:

        >>> a, b = recognizer.predict_batch(["a.wav", np.zeros(48000, "float32")])  # doctest: +SKIP
        """
        return self.predict_loaded([self.load(clip, sample_rate) for clip in clips], batch_size)

    def predict_loaded(
        self, clips: Sequence[np.ndarray | PathLike], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[EmotionPrediction]:
        """`predict_batch` on clips already read by `load` (which checked them).

        Args:
            clips: what `load` returned for each clip: waveforms, or paths of long files.
            batch_size: clips per model call.

        Returns:
            One `EmotionPrediction` per clip, in order.

        Example:

        >>> clips = [recognizer.load(path) for path in ("a.wav", "b.wav")]  # doctest: +SKIP
        >>> recognizer.predict_loaded(clips)  # doctest: +SKIP
        """
        check_positive_int(batch_size, "batch_size")
        predictions: list[EmotionPrediction | None] = [None] * len(clips)
        whole: list[tuple[int, np.ndarray]] = []
        for index, decoded in enumerate(clips):
            if isinstance(decoded, np.ndarray) and decoded.shape[0] <= self._longest_single_pass():
                whole.append((index, decoded))
            else:
                logger.debug("%s: averaging the logits of its timeline windows.", _name(decoded))
                predictions[index] = self.timeline(decoded).summary()
        whole.sort(key=lambda item: item[1].shape[0])
        for start in range(0, len(whole), batch_size):
            chunk = whole[start : start + batch_size]
            waveforms, lengths = pad_batch([waveform for _, waveform in chunk], self.window_samples)
            durations = [waveform.shape[0] / SAMPLE_RATE for _, waveform in chunk]
            scored = self._predictions(waveforms, lengths, durations)
            for (index, _), prediction in zip(chunk, scored):
                predictions[index] = prediction
        return predictions

    def load(self, clip: Any, sample_rate: int = SAMPLE_RATE) -> np.ndarray | PathLike:
        """A clip as `predict` reads it: a checked 16 kHz waveform, or the path of a long file.

        Args:
            clip: a waveform or a file path, as `predict` takes it.
            sample_rate: the rate of an array `clip`.

        Returns:
            float32 ``[samples]``; for a file longer than one pass (see the package docstring),
            its path, which `predict` streams through the timeline instead of decoding it whole.

        Raises:
            The errors of `predict` for bad input.
        """
        if isinstance(clip, (str, os.PathLike)):
            if audio_duration(clip) * SAMPLE_RATE > self._longest_single_pass():
                return clip  # streamed by the timeline, never decoded whole
            waveform = load_audio(clip)
        else:
            waveform = prepare_waveform(clip, sample_rate)
        check_length(waveform.shape[0], _name(clip))
        if waveform.shape[0] < MIN_SAMPLES:
            logger.warning(
                "%s is %.3f s long, shorter than the student's minimum %.3f s (%d samples): "
                "zero-padding it.",
                _name(clip),
                waveform.shape[0] / SAMPLE_RATE,
                MIN_SAMPLES / SAMPLE_RATE,
                MIN_SAMPLES,
            )
        return waveform

    def _longest_single_pass(self) -> int:
        if self.window_samples is not None:
            return self.window_samples
        return int(self.max_clip_seconds * SAMPLE_RATE)

    def _outputs(self, waveforms: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        """The backend's outputs, with the probe head's probabilities when there is one."""
        outputs = self._backend(waveforms, lengths)
        if self._head is not None:
            outputs[HEAD_PROBABILITIES] = self._head(outputs["logits"])
        return outputs

    def _predictions(self, waveforms, lengths, durations) -> Iterator[EmotionPrediction]:
        outputs = self._outputs(waveforms, lengths)
        for index, duration in enumerate(durations):
            yield EmotionPrediction(**self._scores(outputs, index), duration_s=duration)

    def _scores(self, outputs: Mapping[str, np.ndarray], index: int) -> dict[str, Any]:
        """Row `index` of `outputs` as the keyword arguments of `Scores`."""
        head = outputs.get(HEAD_PROBABILITIES)
        return {
            "probabilities": outputs["probabilities"][index],
            "logits": outputs["logits"][index],
            "head_probabilities": None if head is None else head[index],
            "head_classes": None if head is None else self.head_classes,
        }

    # ---- timeline ---------------------------------------------------------------------------

    def window_and_hop(self, window: float | None, hop: float | None) -> tuple[int, int]:
        """A timeline's window and hop in samples, checked for this model.

        Args:
            window: seconds, or None for `default_window_samples`.
            hop: seconds, or None for `DEFAULT_HOP_SECONDS`.

        Returns:
            ``(window_samples, hop_samples)``.

        Raises:
            ValueError: for a bad window or hop, or another window than a TFLite model's own.
        """
        window = self.default_window_samples / SAMPLE_RATE if window is None else window
        hop = DEFAULT_HOP_SECONDS if hop is None else hop
        return window_and_hop_samples(window, hop, self.window_samples, self.format)

    def iter_timeline(
        self,
        audio: Any,
        *,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        sample_rate: int = SAMPLE_RATE,
    ) -> Iterator[TimelineWindow]:
        """Yields `TimelineWindow` rows as they are computed (see `timeline`)."""
        window_samples, hop_samples = self.window_and_hop(window, hop)
        check_positive_int(batch_size, "batch_size")
        if isinstance(audio, (str, os.PathLike)):
            blocks: Iterable[np.ndarray] = stream_audio(audio)
        else:
            blocks = array_blocks(prepare_waveform(audio, sample_rate))
        batch: list[tuple[int, np.ndarray, int]] = []
        for item in iter_windows(blocks, window_samples, hop_samples):
            batch.append(item)
            if len(batch) == batch_size:
                yield from self._score_windows(batch)
                batch = []
        if batch:
            yield from self._score_windows(batch)

    def _score_windows(self, batch: list[tuple[int, np.ndarray, int]]) -> Iterator[TimelineWindow]:
        """Scores windows, each with its own length: a last, partial window is not padded."""
        clips = [samples[:valid] for _, samples, valid in batch]
        waveforms, lengths = pad_batch(clips, self.window_samples)
        outputs = self._outputs(waveforms, lengths)
        for index, (start, _, valid) in enumerate(batch):
            yield TimelineWindow(
                start_s=start / SAMPLE_RATE,
                end_s=(start + valid) / SAMPLE_RATE,
                **self._scores(outputs, index),
            )

    def timeline(
        self,
        audio: Any,
        *,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        sample_rate: int = SAMPLE_RATE,
    ) -> Timeline:
        """Scores fixed windows over a recording; files are decoded as a stream.

        Args:
            audio: a file path (streamed: memory holds about one window per batch entry,
                whatever the file's length) or a waveform (see `prepare_waveform`).
            window: window length in seconds (default: the model's own training crop,
                `default_window_samples`; TFLite models accept only their own window).
            hop: seconds between window starts (default 2.0).
            batch_size: windows scored per model call.
            sample_rate: the rate of an array `audio`; ignored for files.

        Returns:
            A `Timeline`; for a recording no longer than one window, its one window and its
            `Timeline.summary` are `predict`'s answer.

        Raises:
            ValueError: for a bad window, hop or batch size, empty or too short audio, or bad
                samples. FileNotFoundError, IsADirectoryError, AudioDecodeError: for files.

        Example:

        >>> recognizer.timeline("meeting.mp4", hop=1.0).to_csv("meeting.csv")  # doctest: +SKIP
        """
        window_samples, hop_samples = self.window_and_hop(window, hop)
        rows = list(
            self.iter_timeline(
                audio,
                window=window_samples / SAMPLE_RATE,
                hop=hop_samples / SAMPLE_RATE,
                batch_size=batch_size,
                sample_rate=sample_rate,
            )
        )
        return Timeline(
            windows=rows,
            source=_name(audio),
            window_s=window_samples / SAMPLE_RATE,
            hop_s=hop_samples / SAMPLE_RATE,
            duration_s=max(w.end_s for w in rows),
        )


def _name(audio: Any) -> str:
    """A file's path, or ``"<array>"`` for samples (how messages and timelines name a source)."""
    return os.fspath(audio) if isinstance(audio, (str, os.PathLike)) else "<array>"


def _load_backend(path: pathlib.Path, num_threads: int | None) -> tuple[Backend, str]:
    """The backend for a model path, by its format, and the path it was loaded from."""
    if not path.exists():
        raise FileNotFoundError(
            f"No model at '{path}'. Export one with `python -m kerasemo.experiments.export` "
            "(it reads the main job's student and writes saved_models/kerasemo), or pass a "
            ".keras student, a SavedModel folder or a .tflite file."
        )
    if path.is_dir():
        directory = saved_model_dir(path)
        if directory is None:
            found = sorted(p.name for p in path.iterdir())[:10]
            raise ValueError(
                f"'{path}' holds no SavedModel (no saved_model.pb in it or in a numeric "
                f"version sub-folder; found {found}). Pass a SavedModel folder, a .keras or "
                "a .tflite file."
            )
        return SavedModelBackend(directory), str(directory)
    if path.suffix == ".tflite":
        return TFLiteBackend(path, num_threads), str(path)
    if path.suffix == ".keras":
        from kerasemo.export import ExportError, load_student, read_run_config

        try:
            student = load_student(path)
        except ExportError as err:
            raise ValueError(str(err)) from err
        return KerasBackend(student, read_run_config(path.parent)), str(path)
    raise ValueError(
        f"Unrecognised model file '{path}': expected a .keras student, a .tflite model or "
        "a SavedModel folder."
    )
