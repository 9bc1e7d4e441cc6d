"""Per-track work: decode the audio (and run the front-end), decode and crop the face frames.

`TrackPreparer` turns a planned track into a `PreparedTrack` (run in worker threads by the
single-machine builder, in a DoFn by the Beam builder):

- **Audio.** The whole track is decoded to 16 kHz mono and kept either as the recipe's 257-bin
  magnitude spectrogram (`FrontEnd`: ``VGGVoxSpectrogram(mirror=False, normalize=False)``,
  time-major) or as samples. Per-crop normalisation and mirroring happen later, in the model.
- **Frames.** The labelled frames (one every 6 at 25 fps, `kerasemo.data.frames`) are decoded
  (PyAV for video, PIL for the authors' JPEGs) and the face is cropped from its box (square,
  optional context margin), or the frame is used whole where it already is a face crop. With a
  `FileLabeller` no frame is decoded: the logits come from the file.

Example:

>>> preparer = TrackPreparer(config, BuildOptions(), None, StageTimer(),
...                          FrontEnd())  # doctest: +SKIP
>>> prepared = preparer((track, "train"))  # doctest: +SKIP
>>> len(prepared.crops), prepared.spectrogram.shape  # doctest: +SKIP
(7, (158, 257))
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kerasemo.data import frames as frames_lib
from kerasemo.data.emovoxceleb.labellers import FileLabeller
from kerasemo.data.emovoxceleb.options import SAMPLE_RATE, BuildOptions
from kerasemo.data.emovoxceleb.timing import StageTimer
from kerasemo.data.voxceleb import Track

VOXCELEB2_CLIP_SIZE = (224, 224)
"""Frame size of VoxCeleb2's released face-track clips, which are already face crops."""

# Skip reasons and notes of the processing stage.
SKIP_AUDIO = "audio could not be decoded"
SKIP_FRAMES = "face frames could not be read"
NOTE_VIDEO_SHORT = "video ends before the track's last labelled frame (logits truncated)"
NOTE_WHOLE_FRAME = "tracks whose video frames were used whole as face crops"


class FrontEnd:
    """The 257-bin recipe magnitude of a whole track, time-major ``[frames, 257]``.

    Builds and traces a `tf.function` once; calling it from several threads is safe.

    Example:

    >>> frontend = FrontEnd()
    >>> frontend(np.zeros(16000, np.float32)).shape
    (98, 257)
    """

    def __init__(self):
        import tensorflow as tf

        from kerasemo.audio import VGGVoxSpectrogram

        layer = VGGVoxSpectrogram(mirror=False, normalize=False)
        self._fn = tf.function(
            lambda x: layer(x), input_signature=[tf.TensorSpec([1, None], tf.float32)]
        )
        self(np.zeros(400, np.float32))  # trace once, before threads use it

    def __call__(self, waveform: np.ndarray) -> np.ndarray:
        """float32 ``[frames, 257]`` magnitudes of a 16 kHz mono waveform."""
        spectrogram = self._fn(np.asarray(waveform, np.float32)[None, :]).numpy()[0]
        return np.ascontiguousarray(spectrogram.T)


@dataclasses.dataclass
class PreparedTrack:
    """One track after decoding: its audio, its face crops (teacher) or logits (file), or why
    it was skipped (`error`, `detail`). `TrackPreparer` makes it; `serialize_track` and
    `track_record` turn a labelled one into its example and sidecar entry.

    Example:

    >>> PreparedTrack(track=None, split="train", error=SKIP_AUDIO).error
    'audio could not be decoded'
    """

    track: Track
    split: str
    num_samples: int = 0
    spectrogram: np.ndarray | None = None
    waveform: np.ndarray | None = None
    crops: list | None = None
    logits: np.ndarray | None = None
    frame_times: np.ndarray | None = None
    error: str | None = None
    detail: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)


class TrackPreparer:
    """Decodes audio and frames and crops faces for one track (runs in worker threads).

    Args:
        config: the experiment configuration (frame rate and stride).
        options: the `BuildOptions` (audio kind, crop settings).
        labeller: a `FileLabeller` (logits are looked up, no frames decoded), or anything else
            (a `TeacherLabeller`, None): the labelled frames are decoded and cropped.
        timer: a `StageTimer` receiving the busy time of each stage.
        frontend: a `FrontEnd` (spectrogram storage) or None (waveform storage).

    Example:

    >>> preparer = TrackPreparer(
    ...     config, BuildOptions(), None, StageTimer(), FrontEnd())  # doctest: +SKIP
    >>> prepared = preparer((track, "train"))  # doctest: +SKIP
    >>> len(prepared.crops), prepared.spectrogram.shape  # doctest: +SKIP
    (7, (158, 257))
    """

    def __init__(
        self,
        config,
        options: BuildOptions,
        labeller,
        timer: StageTimer,
        frontend: FrontEnd | None,
    ):
        self.config = config
        self.options = options
        self.labeller = labeller
        self.timer = timer
        self.frontend = frontend

    def __call__(self, item: tuple[Track, str]) -> PreparedTrack:
        """``(track, split)`` -> its `PreparedTrack` (with `error` set if it was skipped)."""
        from kerasemo.audio import AudioDecodeError, load_audio

        track, split = item
        prepared = PreparedTrack(track=track, split=split)
        try:
            with self.timer.time("decode_audio"):
                waveform = load_audio(track.audio_path, SAMPLE_RATE)
        except (FileNotFoundError, AudioDecodeError) as err:
            prepared.error, prepared.detail = SKIP_AUDIO, str(err)
            return prepared
        prepared.num_samples = int(waveform.shape[0])
        if self.options.audio == "spectrogram":
            with self.timer.time("frontend"):
                prepared.spectrogram = self.frontend(waveform)
        else:
            prepared.waveform = waveform
        if isinstance(self.labeller, FileLabeller):
            self._label_from_file(prepared)
            return prepared
        try:
            prepared.crops = self.face_crops(track, prepared)
        except (FileNotFoundError, frames_lib.FrameReadError, ValueError) as err:
            prepared.error, prepared.detail = SKIP_FRAMES, str(err)
            return prepared
        if not prepared.crops:
            prepared.error, prepared.detail = SKIP_FRAMES, "no labelled frame could be read"
            return prepared
        prepared.frame_times = self._times(len(prepared.crops)).astype(np.float32)
        return prepared

    def _label_from_file(self, prepared: PreparedTrack) -> None:
        """The track's logits (and frame times, if the file has them) from the logits file."""
        logits = self.labeller.logits
        index = self.labeller.logits_index[prepared.track.track_id]
        prepared.logits = logits.logits[index]
        times = None if logits.frame_times is None else logits.frame_times[index]
        if times is None or times.shape[0] != prepared.logits.shape[0]:
            times = self._times(prepared.logits.shape[0])
        prepared.frame_times = np.asarray(times, np.float32)

    def _times(self, count: int) -> np.ndarray:
        return frames_lib.labelled_frame_times(
            count, self.config.frames.video_fps, self.config.frames.frame_stride
        )

    def face_crops(self, track: Track, prepared: PreparedTrack) -> list[np.ndarray]:
        """The face crops of the track's labelled frames, in order (uint8 RGB).

        A video that ends early gives the crops up to its end (noted in `prepared`).

        Args:
            track: the track.
            prepared: its `PreparedTrack`, which receives the notes.

        Raises:
            FileNotFoundError, kerasemo.data.frames.FrameReadError: if the frames cannot be
                read.
            ValueError: if the track has no frames to label.
        """
        if track.frame_source == "jpeg":
            return self._jpeg_crops(track)
        if track.frame_source != "video":
            raise ValueError(f"track {track.track_id} has no frames to label")
        return self._video_crops(track, prepared)

    def _jpeg_crops(self, track: Track) -> list[np.ndarray]:
        crops = []
        for path in track.frame_paths:
            with self.timer.time("decode_frames"):
                image = frames_lib.read_jpeg(path)
            with self.timer.time("crop"):
                crops.append(frames_lib.center_crop(image, self.options.jpeg_center_crop))
        return crops

    def _video_crops(self, track: Track, prepared: PreparedTrack) -> list[np.ndarray]:
        options = self.options
        indices = [int(n) - track.video_first_frame for n in track.frame_numbers]
        with self.timer.time("decode_frames"):
            images = frames_lib.read_video_frames(
                track.video_path, indices, fps=self.config.frames.video_fps
            )
        crops = []
        with self.timer.time("crop"):
            for k, index in enumerate(indices):
                image = images.get(index)
                if image is None:
                    if crops:
                        prepared.notes.append(NOTE_VIDEO_SHORT)
                    break
                whole = options.video_crop == "whole" or (
                    options.video_crop == "auto"
                    and track.box_units == "normalised"
                    and image.shape[:2] == VOXCELEB2_CLIP_SIZE
                )
                if whole:
                    if k == 0:
                        prepared.notes.append(NOTE_WHOLE_FRAME)
                    crops.append(image)
                else:
                    crops.append(
                        frames_lib.crop_face(
                            image,
                            track.boxes[k],
                            units=track.box_units,
                            margin=options.context_margin,
                            border=options.border,
                        )
                    )
        return crops
