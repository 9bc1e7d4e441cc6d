"""The decoder's error type and the advice every decoding error ends with.

Example:

>>> issubclass(AudioDecodeError, ValueError)
True
>>> "ffprobe talk.m4a" in decode_advice("talk.m4a")
True
"""

from __future__ import annotations

import shlex


class AudioDecodeError(ValueError):
    """Raised when a file exists but no trustworthy audio samples can be decoded from it.

    The message names the file, says what went wrong (no audio stream, zero samples, data that
    neither libsndfile nor FFmpeg can decode, a decoder failure part-way, NaN or Inf samples,
    or, with ``strict=True``, a length that differs from the header's) and what to do about it.
    The underlying `soundfile` or `av` error, if any, is chained as `__cause__`.

    Example:

    >>> from kerasemo.audio import load_audio
    >>> try:  # doctest: +SKIP
    ...     load_audio("notes.txt")
    ... except AudioDecodeError as err:
    ...     print(err)
    """


def decode_advice(path: str) -> str:
    """The closing advice of a decoding error: check the file, or convert it to WAV.

    Args:
        path: the file's path, quoted for the shell in the commands suggested.

    Returns:
        One sentence with an ``ffprobe`` and an ``ffmpeg`` command line for `path`.
    """
    quoted = shlex.quote(path)
    return (
        "Check that the file is a complete, uncorrupted audio or video file (for example run "
        f"`ffprobe {quoted}`), or convert it to WAV first "
        f"(`ffmpeg -i {quoted} -vn -ac 1 -ar 16000 out.wav`)."
    )
