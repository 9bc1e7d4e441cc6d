"""Which video frames of a talking-face track are labelled, and how their face crops are read.

**Labelled frames.** VoxCeleb video runs at 25 fps and the teacher labels one frame in every 6
(0.24 s), starting at the track's first frame (paper section 4). The k-th
labelled frame (1-based) of a track is video frame ``first + 6 (k - 1)``.

**Frame times.** The time stored for labelled frame k is that frame's own time from the track's
start, ``6 (k - 1) / 25`` seconds (`labelled_frame_times`). The authors map a time ``t`` of the
track's audio to a labelled frame with ``k = floor(max(25 t - 1, 0) / 6) + 1``
(`frame_index_for_time`, ``time2idx`` in their ``getBatchEmoVoxCeleb.m``): labelled frame k is the
one selected for ``t`` in ``[t_k + 1/25, t_k + 7/25)`` (``[0, 7/25)`` for k = 1), i.e. their formula
treats video frame ``n`` (1-based) as shown at ``n / 25`` s, one frame (40 ms) later than its
0-based time (`kerasemo.models.teacher_inference.time_of_frame_index` gives that 1-based time,
``t_k + 1/25``). The distillation pipeline selects the frames of an audio crop ``[t0, t1]`` with
the authors' formula on the crop's times (``frame_index_for_time(t0) .. min(frame_index_for_time(
t1), F)``, `kerasemo.models.teacher_inference.frame_window`), not on the stored times; the stored
times say where each logit comes from and allow other selections.

**Face crops.** `crop_face` cuts a square around the centre of a face box, optionally enlarged by
a context margin, with the parts outside the image filled with zeros (``border="pad"``, default:
keeps the face centred and at its scale) or the window shifted inside the image
(``border="clamp"``). Boxes come in three units: VoxCeleb1's pixels of a 360-high frame
(``"pixels360"``, rescaled to the decoded frame's height), VoxCeleb2's normalised 0-1 coordinates
(``"normalised"``), or plain pixels. `read_video_frames` decodes chosen frames of a video with PyAV;
`read_jpeg` reads one of the authors' pre-extracted face JPEGs. Resizing to the teacher's input
size is the teacher API's job, not this module's.

Example:

>>> frame_index_for_time([0.0, 0.27, 0.28, 0.52])
array([1, 1, 2, 3])
>>> labelled_frame_times(3)
array([0.  , 0.24, 0.48])
"""

from __future__ import annotations

import logging
import math
import os

import numpy as np

logger = logging.getLogger(__name__)

VIDEO_FPS = 25.0
"""Frame rate of VoxCeleb video."""
FRAME_STRIDE = 6
"""One video frame in every `FRAME_STRIDE` is labelled (0.24 s at 25 fps)."""
VOXCELEB1_FRAME_HEIGHT = 360
"""VoxCeleb1 face boxes are in pixels of a frame this many pixels high."""
BOX_UNITS = ("pixels360", "normalised", "pixels")
"""Units of a face box ``(x, y, w, h)`` (top-left corner, width, height)."""
BORDERS = ("pad", "clamp")
"""How a crop window that leaves the image is handled."""


class FrameReadError(ValueError):
    """A video or JPEG exists but the frames asked for cannot be read from it."""


# --------------------------------------------------------------------------------------------
# Frame sampling and the authors' time -> index formula.


def frame_index_for_time(t, fps: float = VIDEO_FPS, stride: int = FRAME_STRIDE):
    """The authors' 1-based labelled-frame index of time `t` (seconds from the track start).

    ``floor(max(fps * t - 1, 0) / stride) + 1``, their ``time2idx``, computed in float64 with
    ``fps * t - 1`` rounded to 6 decimals first (so 0.28 s lands on frame 2 however it was
    computed). The distillation pipeline's tensor version (`kerasemo.data.pipeline.frame_index`)
    computes the same formula inside tf.data.

    Args:
        t: a time in seconds, or an array of times (>= 0).
        fps: video frame rate (25 for VoxCeleb).
        stride: one frame in `stride` is labelled (6).

    Returns:
        An int for a scalar `t`, else an int64 array of the same shape.

    Raises:
        ValueError: for a negative time.

    Example:

    >>> frame_index_for_time(0.28), frame_index_for_time(0.2799)
    (2, 1)
    """
    times = np.asarray(t, np.float64)
    if np.any(times < 0):
        raise ValueError(f"Times must be >= 0 seconds; received {t!r}.")
    video_frame = np.round(times * fps - 1.0, 6)
    values = (np.floor(np.maximum(video_frame, 0.0) / stride) + 1).astype(np.int64)
    return int(values) if values.ndim == 0 else values


def num_labelled_frames(num_video_frames: int, stride: int = FRAME_STRIDE) -> int:
    """Labelled frames of a track spanning `num_video_frames` frames: ``ceil(n / stride)``."""
    if num_video_frames < 0:
        raise ValueError(f"num_video_frames must be >= 0; received {num_video_frames}.")
    return -(-int(num_video_frames) // int(stride))


def labelled_frame_numbers(first: int, last: int, stride: int = FRAME_STRIDE) -> np.ndarray:
    """Video frame numbers labelled in a track spanning frames ``first..last`` (inclusive).

    Example:

    >>> labelled_frame_numbers(245, 260).tolist()
    [245, 251, 257]
    """
    if last < first:
        return np.zeros(0, np.int64)
    return np.arange(int(first), int(last) + 1, int(stride), dtype=np.int64)


def labelled_frame_times(
    count: int, fps: float = VIDEO_FPS, stride: int = FRAME_STRIDE
) -> np.ndarray:
    """Times (s from the track start) of the first `count` labelled frames: ``stride (k-1) / fps``.

    See the module docstring for how these relate to the authors' `frame_index_for_time`:
    ``frame_index_for_time(t_k + 1 / fps) == k`` for every k.

    Returns:
        float64 array ``[count]``.
    """
    return np.arange(int(count), dtype=np.float64) * (stride / fps)


# --------------------------------------------------------------------------------------------
# Boxes and crops.


def box_to_pixels(
    box, units: str, frame_width: int, frame_height: int
) -> tuple[float, float, float, float]:
    """Converts a face box ``(x, y, w, h)`` to pixels of a decoded frame of the given size.

    Args:
        box: ``(x, y, w, h)``: top-left corner, width and height.
        units: ``"pixels360"`` (VoxCeleb1: pixels of a 360-high frame; scaled by
            ``frame_height / 360`` on both axes, so a 90-high rendition of the video works),
            ``"normalised"`` (VoxCeleb2: fractions of the frame's width and height) or
            ``"pixels"`` (already in the frame's pixels).
        frame_width: width of the decoded frame in pixels.
        frame_height: height of the decoded frame in pixels.

    Returns:
        ``(x, y, w, h)`` in pixels of the decoded frame, as floats.

    Raises:
        ValueError: for unknown units.
    """
    x, y, w, h = (float(v) for v in box)
    if units == "pixels360":
        scale = frame_height / VOXCELEB1_FRAME_HEIGHT
        return x * scale, y * scale, w * scale, h * scale
    if units == "normalised":
        return x * frame_width, y * frame_height, w * frame_width, h * frame_height
    if units == "pixels":
        return x, y, w, h
    raise ValueError(f"Unknown box units {units!r}; expected one of {BOX_UNITS}.")


def square_window(box_pixels, margin: float = 0.0) -> tuple[int, int, int]:
    """The square crop window around a box: ``(left, top, side)`` in integer pixels.

    The side is ``max(w, h) * (1 + 2 * margin)`` (a margin of 0.1 adds 10 % of the box's side
    on every side), centred on the box centre, rounded to whole pixels (at least 1).

    Example:

    >>> square_window((10, 20, 40, 50), margin=0.0)
    (5, 20, 50)
    """
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a finite number >= 0; received {margin!r}.")
    x, y, w, h = (float(v) for v in box_pixels)
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    side_px = max(1, int(round(side)))
    left = int(math.floor(cx - side_px / 2.0 + 0.5))
    top = int(math.floor(cy - side_px / 2.0 + 0.5))
    return left, top, side_px


def crop_face(
    image: np.ndarray,
    box,
    *,
    units: str = "pixels",
    margin: float = 0.0,
    border: str = "pad",
) -> np.ndarray:
    """Cuts the square face crop of a box out of an RGB frame.

    Args:
        image: uint8 ``[height, width, 3]`` frame.
        box: ``(x, y, w, h)`` in `units` (see `box_to_pixels`).
        units: ``"pixels360"``, ``"normalised"`` or ``"pixels"``.
        margin: context added on every side, as a fraction of the box's longer side
            (0 = the box itself, squared; the default, which matches the authors, who
            centre-crop their 1.6x-context JPEGs back to the box before the teacher).
        border: ``"pad"`` keeps the window where it is and fills the part outside the image
            with zeros; ``"clamp"`` shifts the window inside the image (shrinking it to the
            image's shorter side if needed).

    Returns:
        uint8 ``[side, side, 3]`` crop (a view-free copy).

    Raises:
        ValueError: for a malformed image, non-positive box size, unknown units or border.

    Example:

    >>> frame = np.zeros((360, 640, 3), np.uint8)
    >>> crop_face(frame, (600, 10, 80, 80), units="pixels").shape
    (80, 80, 3)
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be [height, width, 3] RGB; received shape {image.shape}.")
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}; received {border!r}.")
    height, width = image.shape[:2]
    pixels = box_to_pixels(box, units, width, height)
    if not (pixels[2] > 0 and pixels[3] > 0):
        raise ValueError(f"Face box must have a positive width and height; received {box!r}.")
    left, top, side = square_window(pixels, margin)
    if border == "clamp":
        side = min(side, width, height)
        left = min(max(left, 0), width - side)
        top = min(max(top, 0), height - side)
        return np.ascontiguousarray(image[top : top + side, left : left + side])
    crop = np.zeros((side, side, 3), np.uint8)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, width), min(top + side, height)
    if x1 > x0 and y1 > y0:
        crop[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return crop


def center_crop(image: np.ndarray, fraction: float) -> np.ndarray:
    """The centred ``fraction`` of an image's height and width (1.0 returns it unchanged).

    The authors' extracted JPEGs carry 1.6x context around the face, and their labelling code
    centre-crops ``1 / 1.6`` of each before the teacher (``vl_imreadjpeg(..., 'CropSize',
    1 / 1.6, 'CropLocation', 'center')``).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; received {fraction!r}.")
    if fraction == 1:
        return image
    height, width = image.shape[:2]
    h = max(1, int(round(height * fraction)))
    w = max(1, int(round(width * fraction)))
    top, left = (height - h) // 2, (width - w) // 2
    return np.ascontiguousarray(image[top : top + h, left : left + w])


# --------------------------------------------------------------------------------------------
# Reading frames.


def read_jpeg(path: str | os.PathLike) -> np.ndarray:
    """Reads a JPEG (or any image PIL opens) as uint8 RGB ``[height, width, 3]``.

    Raises:
        FileNotFoundError: if the file does not exist.
        FrameReadError: if it cannot be decoded.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise FrameReadError(
            f"Could not decode image '{os.fspath(path)}': {err}. Check that the frame "
            "extraction finished and the file is a complete JPEG."
        ) from err


def read_video_frames(
    path: str | os.PathLike,
    frame_indices,
    fps: float = VIDEO_FPS,
) -> dict[int, np.ndarray]:
    """Decodes the chosen frames of a video with PyAV.

    Frame ``i`` is the one whose presentation time, relative to the video stream's start, is
    closest to ``i / fps`` (frames without timestamps are counted in decode order). Frames are
    decoded in order until the last requested index; if the video starts far before the first
    requested frame (a full video with absolute frame numbers), it seeks to the nearest
    keyframe before it first.

    Args:
        path: video file (mp4, avi, mkv, ...).
        frame_indices: 0-based frame indices to return.
        fps: the video's nominal frame rate, used to turn timestamps into indices.

    Returns:
        ``{index: uint8 [height, width, 3] RGB frame}`` for every requested index that exists;
        indices past the end of the video are absent from the result.

    Raises:
        FileNotFoundError: if the file does not exist.
        FrameReadError: if the file has no video stream or FFmpeg fails to decode it.
    """
    import av

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Video file not found: '{path}'.")
    wanted = sorted({int(i) for i in frame_indices})
    result: dict[int, np.ndarray] = {}
    if not wanted:
        return result
    wanted_set = set(wanted)
    last = wanted[-1]
    try:
        with av.open(path, metadata_errors="replace") as container:
            if not container.streams.video:
                raise FrameReadError(f"'{path}' has no video stream; cannot read face frames.")
            stream = container.streams.video[0]
            start = 0.0
            if stream.start_time is not None and stream.time_base is not None:
                start = float(stream.start_time * stream.time_base)
            first_time = wanted[0] / fps
            counted = 0
            if first_time > 2.0 and stream.time_base is not None:
                target = int((start + first_time - 1.0) / stream.time_base)
                container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
                counted = None  # decode-order counting is meaningless after a seek
            for frame in container.decode(stream):
                if frame.pts is not None and frame.time_base is not None:
                    index = int(round((float(frame.pts * frame.time_base) - start) * fps))
                elif counted is not None:
                    index = counted
                else:
                    raise FrameReadError(
                        f"'{path}' has frames without timestamps; cannot seek to frame "
                        f"{wanted[0]}. Re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4)."
                    )
                if counted is not None:
                    counted += 1
                if index in wanted_set and index not in result:
                    result[index] = frame.to_ndarray(format="rgb24")
                if index >= last:
                    break
    except av.error.FFmpegError as err:
        raise FrameReadError(
            f"FFmpeg failed to decode video frames of '{path}': {err}. The file may be "
            "truncated or corrupt."
        ) from err
    return result
