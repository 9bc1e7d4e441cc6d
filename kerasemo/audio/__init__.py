"""Audio: decoding any container to 16 kHz mono, and the VGGVox spectrogram front-end.

- `load_audio`, `audio_duration`: PyAV/soundfile decoding with clear errors.
- `vggvox_spectrogram_reference`: the NumPy reference of the authors' recipe.
- `VGGVoxSpectrogram`, `MirrorFrequencyBins`, `PerBinNormalization`: the same recipe as Keras
  layers that run batched on the accelerator and export with the model.
"""

from kerasemo.audio.decode import AudioDecodeError, audio_duration, load_audio
from kerasemo.audio.frontend import (
    CROP_FRAMES,
    CROP_SAMPLES,
    FFT_LENGTH,
    FRAME_LENGTH,
    FRAME_STEP,
    MirrorFrequencyBins,
    LogMagnitude,
    PerBinNormalization,
    VGGVoxSpectrogram,
    num_frames,
    num_samples_for_frames,
)
from kerasemo.audio.reference import vggvox_spectrogram_reference

__all__ = [
    "AudioDecodeError",
    "CROP_FRAMES",
    "CROP_SAMPLES",
    "FFT_LENGTH",
    "FRAME_LENGTH",
    "FRAME_STEP",
    "MirrorFrequencyBins",
    "LogMagnitude",
    "PerBinNormalization",
    "VGGVoxSpectrogram",
    "audio_duration",
    "load_audio",
    "num_frames",
    "num_samples_for_frames",
    "vggvox_spectrogram_reference",
]
