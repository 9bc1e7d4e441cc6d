"""`EmotionRecognizer`: one clip, or a timeline over a long recording, with any kerasemo model."""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union

import numpy as np

from kerasemo import emotions
from kerasemo.audio.decode import audio_duration, load_audio, stream_audio
from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.checks import check_positive_int, check_positive_number
from kerasemo.export.contract import MIN_SAMPLES
from kerasemo.inference.backends import (
    Backend,
    KerasBackend,
    SavedModelBackend,
    TFLiteBackend,
    saved_model_dir,
)
from kerasemo.inference.results import EmotionPrediction, Timeline, TimelineWindow
from kerasemo.inference.waveforms import check_length, prepare_waveform
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


class EmotionRecognizer:
    """Scores speech emotion with an exported or trained kerasemo model.

    Build it with `from_path` (``.keras`` student, SavedModel folder or export folder,
    ``.tflite``) or `from_student` (an in-memory `VGGMStudent`). See the module docstring for the
    input rules and what one prediction covers.

    Args:
        backend: internal; use the constructors.
        source: a description of the model (its path).
        max_clip_seconds: the longest clip scored in one pass by the variable-length formats.

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
    ):
        self._backend = backend
        self.source = source
        self.max_clip_seconds = check_positive_number(max_clip_seconds, "max_clip_seconds")

    # ---- construction -----------------------------------------------------------------------

    @classmethod
    def from_path(
        cls,
        path: PathLike,
        *,
        num_threads: int | None = None,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    ) -> EmotionRecognizer:
        """Loads a model, detecting its format from the path.

        Args:
            path: a ``.keras`` student file, a ``.tflite`` file, a SavedModel folder, or an
                export folder (``saved_models/NAME``; its highest numeric version is loaded).
            num_threads: LiteRT CPU threads for ``.tflite`` (None: all logical cores).
            max_clip_seconds: see the class docstring.

        Returns:
            An `EmotionRecognizer`.

        Raises:
            FileNotFoundError: if `path` does not exist.
            ValueError: if the format is not recognised or the model is not a kerasemo model.
        """
        path = pathlib.Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"No model at '{path}'. Export one with `python -m kerasemo.experiments.export "
                "--student runs/distill/student.keras --out saved_models/kerasemo`, or pass a "
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
            backend: Backend = SavedModelBackend(directory)
            source = str(directory)
        elif path.suffix == ".tflite":
            backend, source = TFLiteBackend(path, num_threads), str(path)
        elif path.suffix == ".keras":
            from kerasemo.export import ExportError, load_student, read_run_config

            try:
                student = load_student(path)
            except ExportError as err:
                raise ValueError(str(err)) from err
            backend = KerasBackend(student, read_run_config(path.parent))
            source = str(path)
        else:
            raise ValueError(
                f"Unrecognised model file '{path}': expected a .keras student, a .tflite model or "
                "a SavedModel folder."
            )
        logger.info("Loaded %s model from %s", backend.format, source)
        return cls(backend, source, max_clip_seconds)

    @classmethod
    def from_student(
        cls,
        student: Any,
        *,
        run_config: Mapping[str, Any] | None = None,
        max_clip_seconds: float = DEFAULT_MAX_CLIP_SECONDS,
    ) -> EmotionRecognizer:
        """Wraps an in-memory `VGGMStudent` (rebuilt in float32 if it is mixed precision).

        Args:
            student: a `VGGMStudent`.
            run_config: its training run's resolved configuration (a dict, e.g.
                `kerasemo.export.read_run_config(run_dir)`), read for the window when the
                student was not built for fixed crops; None uses the paper's crop then.
            max_clip_seconds: see the class docstring.
        """
        backend = KerasBackend(student, run_config)
        return cls(backend, f"<{type(student).__name__}>", max_clip_seconds)

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

    # ---- one clip ---------------------------------------------------------------------------

    def predict(self, audio: Any, *, sample_rate: int = SAMPLE_RATE) -> EmotionPrediction:
        """Scores one clip: a waveform or an audio/video file.

        Args:
            audio: a 1-D waveform (or 2-D with channels, averaged), or a file path (any format
                `kerasemo.audio.load_audio` reads).
            sample_rate: the rate of an array `audio` (resampled to 16 kHz when different);
                ignored for files, which are decoded at 16 kHz.

        Returns:
            An `EmotionPrediction`.

        Raises:
            TypeError, ValueError: for bad arrays (see `prepare_waveform`), empty input or input
                shorter than `MIN_CLIP_SECONDS`.
            FileNotFoundError, IsADirectoryError, AudioDecodeError: for a file that cannot be
                decoded.

        Example:

        >>> recognizer.predict("clip.wav").to_dict()["dominant"]  # doctest: +SKIP
        'happiness'
        """
        if isinstance(audio, (str, os.PathLike)):
            longest = self._longest_single_pass()
            if audio_duration(audio) * SAMPLE_RATE > longest:
                logger.info(
                    "%s is longer than %.3f s: averaging the logits of its timeline windows.",
                    audio,
                    longest / SAMPLE_RATE,
                )
                return self.timeline(audio).summary()
            waveform = load_audio(audio)
            what = f"'{audio}'"
        else:
            waveform = prepare_waveform(audio, sample_rate)
            what = "The waveform"
        check_length(waveform.shape[0], what)
        if waveform.shape[0] > self._longest_single_pass():
            return self.timeline(waveform).summary()
        target = self.window_samples or max(MIN_SAMPLES, waveform.shape[0])
        if waveform.shape[0] < MIN_SAMPLES:
            logger.warning(
                "%s is %.3f s long, shorter than the student's minimum %.3f s (%d samples): "
                "zero-padding it.",
                what,
                waveform.shape[0] / SAMPLE_RATE,
                MIN_SAMPLES / SAMPLE_RATE,
                MIN_SAMPLES,
            )
        padded = np.pad(waveform, (0, target - waveform.shape[0]))[None, :]
        outputs = self._backend(padded)
        return EmotionPrediction(outputs["probabilities"][0], outputs["logits"][0])

    def _longest_single_pass(self) -> int:
        if self.window_samples is not None:
            return self.window_samples
        return int(self.max_clip_seconds * SAMPLE_RATE)

    # ---- timeline ---------------------------------------------------------------------------

    def _window_and_hop(self, window: float | None, hop: float | None) -> tuple[int, int]:
        window = self.default_window_samples / SAMPLE_RATE if window is None else window
        hop = DEFAULT_HOP_SECONDS if hop is None else hop
        return window_and_hop_samples(window, hop, self.window_samples, self.format)

    def iter_timeline(
        self,
        audio: Any,
        *,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int = 8,
        sample_rate: int = SAMPLE_RATE,
    ) -> Iterator[TimelineWindow]:
        """Yields `TimelineWindow` rows as they are computed (see `timeline`)."""
        window_samples, hop_samples = self._window_and_hop(window, hop)
        check_positive_int(batch_size, "batch_size")
        if isinstance(audio, (str, os.PathLike)):
            blocks: Iterable[np.ndarray] = stream_audio(audio)
        else:
            blocks = array_blocks(prepare_waveform(audio, sample_rate))
        batch: list[tuple[int, np.ndarray, int]] = []
        for item in iter_windows(blocks, window_samples, hop_samples):
            batch.append(item)
            if len(batch) == batch_size:
                yield from self._score(batch)
                batch = []
        if batch:
            yield from self._score(batch)

    def _score(self, batch: list[tuple[int, np.ndarray, int]]) -> Iterator[TimelineWindow]:
        outputs = self._backend(np.stack([samples for _, samples, _ in batch]))
        for index, (start, _, valid) in enumerate(batch):
            yield TimelineWindow(
                start_s=start / SAMPLE_RATE,
                end_s=(start + valid) / SAMPLE_RATE,
                probabilities=outputs["probabilities"][index],
                logits=outputs["logits"][index],
            )

    def timeline(
        self,
        audio: Any,
        *,
        window: float | None = None,
        hop: float | None = None,
        batch_size: int = 8,
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
            A `Timeline`.

        Raises:
            ValueError: for a bad window, hop or batch size, empty or too short audio, or bad
                samples. FileNotFoundError, IsADirectoryError, AudioDecodeError: for files.

        Example:

        >>> recognizer.timeline("meeting.mp4", hop=1.0).to_csv("meeting.csv")  # doctest: +SKIP
        """
        window_samples, hop_samples = self._window_and_hop(window, hop)
        rows = list(
            self.iter_timeline(
                audio,
                window=window_samples / SAMPLE_RATE,
                hop=hop_samples / SAMPLE_RATE,
                batch_size=batch_size,
                sample_rate=sample_rate,
            )
        )
        source = os.fspath(audio) if isinstance(audio, (str, os.PathLike)) else "<array>"
        return Timeline(
            windows=rows,
            source=source,
            window_s=window_samples / SAMPLE_RATE,
            hop_s=hop_samples / SAMPLE_RATE,
            duration_s=max(w.end_s for w in rows),
        )
