"""Audio: decoding any container to 16 kHz mono, and the VGGVox spectrogram front-end.

- `load_audio`, `stream_audio`, `audio_duration`: PyAV/soundfile decoding (whole or in blocks)
  with clear errors, finiteness and truncation checks; `resample` / `Resampler` for arrays;
  `MEDIA_EXTENSIONS` (`AUDIO_EXTENSIONS` and `VIDEO_EXTENSIONS`), the file suffixes read as
  audio or audio-visual files.
- `vggvox_spectrogram_reference`: the NumPy reference of the authors' recipe.
- `VGGVoxSpectrogram`, `MirrorFrequencyBins`, `PerBinNormalization`: the same recipe as Keras
  layers that run batched on the accelerator and export with the model.

The names below are loaded on first use: importing the package, or a module without Keras such
as `kerasemo.audio.reference` or `kerasemo.audio.decode`, does not load Keras.

Example:

>>> from kerasemo.audio import MEDIA_EXTENSIONS, num_frames
>>> ".wav" in MEDIA_EXTENSIONS, num_frames(16000)
(True, 98)
"""

# Bound here, not on first use: the function has the name of its module, which the import
# system would otherwise set as the package's attribute once any module imports that module.
from kerasemo.audio.resample import Resampler, resample
from kerasemo.lazy import lazy_exports

_HOMES = {
    "AUDIO_EXTENSIONS": ".decode",
    "AudioDecodeError": ".decode",
    "MEDIA_EXTENSIONS": ".decode",
    "VIDEO_EXTENSIONS": ".decode",
    "audio_duration": ".decode",
    "load_audio": ".decode",
    "stream_audio": ".decode",
    "LogMagnitude": ".frontend",
    "MirrorFrequencyBins": ".frontend",
    "PerBinNormalization": ".frontend",
    "VGGVoxSpectrogram": ".frontend",
    "CROP_FRAMES": ".reference",
    "CROP_SAMPLES": ".reference",
    "FFT_LENGTH": ".reference",
    "FRAME_LENGTH": ".reference",
    "FRAME_STEP": ".reference",
    "crop_samples_for_frames": ".reference",
    "num_frames": ".reference",
    "num_samples_for_frames": ".reference",
    "vggvox_spectrogram_reference": ".reference",
}

__all__ = sorted([*_HOMES, "Resampler", "resample"])

__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
