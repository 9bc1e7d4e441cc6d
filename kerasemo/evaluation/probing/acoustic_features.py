"""The acoustic baseline's features: eGeMAPS v02 functionals (88 per clip, openSMILE).

The classic baseline the paper compares with is Noroozi et al.'s 88 audio features + a random
forest; here the 88 are openSMILE's eGeMAPS v02 functionals (the optional ``acoustic`` extra,
``pip install kerasemo[acoustic]``). Without ``opensmile`` the probe's acoustic row says how to
install it (`ACOUSTIC_INSTALL_HINT`) instead of failing.

Example:

```python
features = compute_egemaps(["clip1.wav", "clip2.wav"])
features.features.shape  # (2, 88)
```
"""

from __future__ import annotations

import logging
import os
import pathlib
import time
from collections.abc import Sequence

import numpy as np

from kerasemo.evaluation.probing.cache import FeatureSet
from kerasemo.progress import progress_bar

logger = logging.getLogger(__name__)

ACOUSTIC_VERSION = "egemaps-v1"
ACOUSTIC_INSTALL_HINT = "not installed (pip install kerasemo[acoustic])"


class AcousticBaselineUnavailable(ImportError):
    """The acoustic baseline needs the optional ``opensmile`` package (extra ``acoustic``)."""


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


def import_opensmile():
    """Imports and returns the ``opensmile`` module, its C library loaded safely beside TF.

    Raises:
        AcousticBaselineUnavailable: if ``opensmile`` is not installed (the message says how to
            install it).

    Example:

    >>> opensmile = import_opensmile()  # doctest: +SKIP
    """
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
        progress: show a progress bar (drawn only on a terminal).

    Returns:
        A `FeatureSet` of `[N, 88]` features.

    Raises:
        AcousticBaselineUnavailable: if ``opensmile`` is not installed.

    Example:

    >>> compute_egemaps(["a.wav", "b.wav"]).features.shape  # doctest: +SKIP
    (2, 88)
    """
    from kerasemo.audio import AudioDecodeError, load_audio

    opensmile = import_opensmile()
    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    width = len(smile.feature_names)
    features = np.zeros((len(paths), width), np.float32)
    valid = np.zeros(len(paths), bool)
    errors: dict[int, str] = {}
    start = time.perf_counter()
    for index, path in enumerate(progress_bar(paths, enabled=progress, desc="eGeMAPS", unit="clip", leave=False)):
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
