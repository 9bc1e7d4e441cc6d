"""Teacher features of the probe: the face teacher on each clip's video, pooled over the clip.

One frame in every ``stride`` is decoded (PyAV), at most ``max_frames`` spread over the clip,
each the centred square crop of the whole frame (acted sets film one frontal face, and face
detection is out of scope); the teacher's frame logits are max-pooled to one 8-d vector.

Example:

```python
teacher = load_model("runs/teacher/teacher.keras")
pooled = compute_teacher_features(teacher, ["s1/an1.avi", None])
pooled.valid  # [True, False]: the second clip has no video
```
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from kerasemo.checks import check_choice, check_positive_int
from kerasemo.evaluation.probing.cache import FeatureSet
from kerasemo.progress import progress_bar

TEACHER_VERSION = "teacher-v1"
FACE_CROPS: tuple[str, ...] = ("center", "full")


def _center_square(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return np.ascontiguousarray(image[top : top + side, left : left + side])


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

    Example:

    >>> sample_video_frames("s1/an1.avi", stride=6).shape  # doctest: +SKIP
    (3, 32, 32, 3)
    """
    import av

    from kerasemo.data.frames import FrameReadError

    check_choice(crop, "crop", FACE_CROPS)
    check_positive_int(stride, "stride")
    check_positive_int(max_frames, "max_frames")
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
                kept.append(_center_square(image) if crop == "center" else image)
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
        progress: show a progress bar (drawn only on a terminal).

    Returns:
        A `FeatureSet` of `[N, 8]` pooled logits.

    Example:

    >>> compute_teacher_features(teacher, ["s1/an1.avi"]).features.shape  # doctest: +SKIP
    (1, 8)
    """
    from kerasemo.data.frames import FrameReadError
    from kerasemo.models.teacher_inference import aggregate_frame_logits, predict_frame_logits

    count = len(video_paths)
    features = np.zeros((count, int(teacher.outputs[0].shape[-1])), np.float32)
    valid = np.zeros(count, bool)
    errors: dict[int, str] = {}
    start = time.perf_counter()
    todo = [i for i, p in enumerate(video_paths) if p is not None]
    for index in progress_bar(todo, enabled=progress, desc="teacher on faces", unit="clip", leave=False):
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
