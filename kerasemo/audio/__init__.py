"""Audio: decoding any container to 16 kHz mono, and the VGGVox spectrogram front-end.

- `load_audio`, `stream_audio`, `audio_duration`: PyAV/soundfile decoding (whole or in blocks)
  with clear errors, finiteness and truncation checks; `resample` / `Resampler` for arrays.
- `vggvox_spectrogram_reference`: the NumPy reference of the authors' recipe.
- `VGGVoxSpectrogram`, `MirrorFrequencyBins`, `PerBinNormalization`: the same recipe as Keras
  layers that run batched on the accelerator and export with the model.
"""

from kerasemo.audio.decode import AudioDecodeError, audio_duration, load_audio, stream_audio
from kerasemo.audio.frontend import (
    CROP_FRAMES,
    CROP_SAMPLES,
    FFT_LENGTH,
    FRAME_LENGTH,
    FRAME_STEP,
    LogMagnitude,
    MirrorFrequencyBins,
    PerBinNormalization,
    VGGVoxSpectrogram,
    num_frames,
    num_samples_for_frames,
)
from kerasemo.audio.reference import crop_samples_for_frames, vggvox_spectrogram_reference
from kerasemo.audio.resample import Resampler, resample

__all__ = [
    "AudioDecodeError",
    "CROP_FRAMES",
    "CROP_SAMPLES",
    "FFT_LENGTH",
    "FRAME_LENGTH",
    "FRAME_STEP",
    "LogMagnitude",
    "MirrorFrequencyBins",
    "PerBinNormalization",
    "Resampler",
    "VGGVoxSpectrogram",
    "audio_duration",
    "crop_samples_for_frames",
    "load_audio",
    "num_frames",
    "num_samples_for_frames",
    "resample",
    "stream_audio",
    "vggvox_spectrogram_reference",
]
