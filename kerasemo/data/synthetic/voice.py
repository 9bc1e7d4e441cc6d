"""An emotional voice synthesiser: speech-like audio whose prosody shows a latent emotion.

The signal is a source-filter model, vectorised in NumPy (no per-sample Python loop):

- **source**: a band-limited glottal pulse train (wavetables with as many harmonics as fit below
  7.5 kHz for the local F0) following an F0 contour made of the speaker's base F0, the emotion's
  shift, phrase declination, pitch accents on stressed syllables, phrase-final rises or falls,
  slow wander and cycle-scale **jitter**; amplitude **shimmer**; aspiration (breath) noise pulsed
  at F0; fricative/plosive noise bursts at syllable onsets; inhalation noise in long pauses.
- **envelope**: syllables at the speaker's rate (times the emotion's rate factor) grouped into
  phrases of 3-7 syllables separated by pauses.
- **filter**: a cascade of four formant resonators per syllable (five vowels, scaled by the
  speaker's vocal-tract length), a spectral tilt (voice quality: tense voice is flatter, lax or
  breathy voice steeper), applied frame by frame in the frequency domain with overlap-add
  (256-sample Hann frames, hop 128 at 16 kHz, zero-phase responses).
- **level**: the voiced part is normalised per syllable, then the emotion's energy (dB), the
  speaker's level and the channel's gain are applied, and a noise floor added.

Each emotion moves the voice relative to the speaker's neutral voice (`PROSODY`, values at full
intensity; an episode at intensity ``w`` moves it by ``w`` times that, blended log-linearly for
factors). Directions follow what the vocal-affect literature reports (reviews by Scherer 2003,
"Vocal communication of emotion", and Juslin & Laukka 2003, "Communication of emotions in vocal
expression and music performance"); magnitudes are chosen to make the classes separable but
overlapping once speakers differ:

| emotion   | F0 level | F0 range | energy | rate  | jitter | tilt (voice quality) | breath | pauses | phrase end |
|-----------|----------|----------|--------|-------|--------|----------------------|--------|--------|------------|
| neutral   | 0 st     | x1.0     | 0 dB   | x1.0  | base   | 0 dB/oct             | x1.0   | x1.0   | fall       |
| happiness | +3 st    | x1.6     | +3 dB  | x1.08 | +0.2 % | +2 (brighter)        | x1.0   | x0.9   | slight rise|
| surprise  | +4 st    | x1.8     | +3 dB  | x1.0  | base   | +1                   | x1.1   | x1.0   | +5 st rise |
| sadness   | -2 st    | x0.5     | -6 dB  | x0.72 | +0.4 % | -3 (dull, lax)       | x1.8   | x1.6   | fall       |
| anger     | +2.5 st  | x1.3     | +7 dB  | x1.15 | +0.3 % | +4 (tense, bright)   | x0.5   | x0.7   | fall       |
| disgust   | -1.5 st  | x1.1     | -1 dB  | x0.8  | +0.3 % | -1                   | x1.3   | x1.3   | -2 st fall |
| fear      | +4.5 st  | x0.8     | +1 dB  | x1.25 | +1.2 % | +0.5                 | x1.7   | x0.8   | slight rise|
| contempt  | -1 st    | x0.8     | -1 dB  | x0.9  | base   | -0.5                 | x1.1   | x1.1   | -1.5 st    |

Reported directions: anger (hot) and happiness raise F0 level, range and intensity and speed
up; sadness lowers F0, narrows its range, lowers intensity, slows down and weakens high
frequencies; fear raises F0 and rate with irregular voicing (jitter) and breathiness; surprise
has high F0 with a wide range and rising contours; disgust is low and slow; contempt is
slightly low with falling contours (few studies; the weakest cues here, on purpose).

Speakers (`VoiceProfile`) differ far more than emotions shift them: male F0 90-145 Hz, female
170-240 Hz, vocal-tract scale, rate, tilt, breathiness and level all drawn per speaker, so a
speaker's voice is easy to recognise: a shortcut the unheard-identity split exposes.

Example:

>>> from kerasemo.data.synthetic.seeding import rng_for
>>> from kerasemo.data.synthetic.trajectories import constant_trajectory
>>> voice = sample_voice(rng_for(0, "doc"), "spk")
>>> utterance = synthesise(voice, constant_trajectory(1.5, "anger"), rng=rng_for(0, "doc", 1))
>>> utterance.waveform.shape, utterance.waveform.dtype
((24000,), dtype('float32'))
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from kerasemo.emotions import CLASSES

SAMPLE_RATE = 16000
"""Default output rate (VoxCeleb, CREMA-D)."""
CONTROL_RATE = 400
"""Rate (Hz) of the slowly varying controls: F0, envelopes, gains."""
REFERENCE_RMS = 0.05
"""RMS of a neutral voiced syllable at 0 dB speaker level and channel gain (about -26 dBFS)."""

# Five vowels: formant centre frequencies F1..F4 (Hz, adult male reference, after Peterson &
# Barney 1952) and bandwidths (Hz).
_VOWEL_FORMANTS = np.array(
    [
        [730.0, 1090.0, 2440.0, 3400.0],  # /a/
        [530.0, 1840.0, 2480.0, 3500.0],  # /e/
        [270.0, 2290.0, 3010.0, 3600.0],  # /i/
        [570.0, 840.0, 2410.0, 3400.0],  # /o/
        [300.0, 870.0, 2240.0, 3300.0],  # /u/
    ]
)
_FORMANT_BANDWIDTHS = np.array([80.0, 100.0, 150.0, 220.0])


@dataclasses.dataclass(frozen=True)
class Prosody:
    """How one emotion moves the voice at full intensity (see the module table).

    Args:
        f0_shift_st: change of mean F0 in semitones.
        f0_range: factor on the size of pitch accents.
        energy_db: change of level in dB.
        rate: factor on the syllable rate.
        jitter: added cycle-to-cycle F0 perturbation (relative standard deviation).
        shimmer: added amplitude perturbation (relative standard deviation).
        tilt_db_oct: change of spectral slope in dB per octave (positive = flatter, tenser).
        breath: factor on aspiration noise.
        pause: factor on pause length.
        final_st: F0 movement over phrase-final syllables in semitones (rise > 0).
        f1_shift: relative raise of F1 (vocal effort, spread lips).
    """

    f0_shift_st: float = 0.0
    f0_range: float = 1.0
    energy_db: float = 0.0
    rate: float = 1.0
    jitter: float = 0.0
    shimmer: float = 0.0
    tilt_db_oct: float = 0.0
    breath: float = 1.0
    pause: float = 1.0
    final_st: float = 0.0
    f1_shift: float = 0.0


PROSODY: dict[str, Prosody] = {
    "neutral": Prosody(),
    "happiness": Prosody(3.0, 1.6, 3.0, 1.08, 0.002, 0.0, 2.0, 1.0, 0.9, 1.0, 0.08),
    "surprise": Prosody(4.0, 1.8, 3.0, 1.0, 0.0, 0.0, 1.0, 1.1, 1.0, 5.0, 0.05),
    "sadness": Prosody(-2.0, 0.5, -6.0, 0.72, 0.004, 0.03, -3.0, 1.8, 1.6, -1.0, -0.05),
    "anger": Prosody(2.5, 1.3, 7.0, 1.15, 0.003, 0.02, 4.0, 0.5, 0.7, 0.0, 0.12),
    "disgust": Prosody(-1.5, 1.1, -1.0, 0.8, 0.003, 0.02, -1.0, 1.3, 1.3, -2.0, 0.0),
    "fear": Prosody(4.5, 0.8, 1.0, 1.25, 0.012, 0.05, 0.5, 1.7, 0.8, 1.0, 0.0),
    "contempt": Prosody(-1.0, 0.8, -1.0, 0.9, 0.0, 0.0, -0.5, 1.1, 1.1, -1.5, 0.0),
}
"""Emotion -> voice change at full intensity, in `kerasemo.emotions.CLASSES` names."""

_FACTOR_FIELDS = ("f0_range", "rate", "breath", "pause")
_FIELDS = tuple(f.name for f in dataclasses.fields(Prosody))


def _prosody_matrix() -> np.ndarray:
    """[8, fields]: additive fields as they are, factors as logs (blended log-linearly)."""
    rows = []
    for name in CLASSES:
        p = PROSODY[name]
        rows.append(
            [math.log(getattr(p, f)) if f in _FACTOR_FIELDS else getattr(p, f) for f in _FIELDS]
        )
    return np.asarray(rows, np.float64)


_PROSODY_MATRIX = _prosody_matrix()


@dataclasses.dataclass(frozen=True)
class VoiceProfile:
    """One speaker's neutral voice.

    Args:
        name: speaker id (e.g. ``id10003`` or ``1001``).
        gender: "m" or "f".
        f0_hz: mean F0 of neutral speech.
        accent_st: size of a full pitch accent in semitones.
        formant_scale: vocal-tract scaling of all formants (1 = adult male reference).
        rate_sps: syllables per second of neutral speech.
        tilt_db_oct: the speaker's own spectral slope offset.
        breathiness: aspiration noise relative to the voiced amplitude.
        jitter: cycle-to-cycle F0 perturbation (relative standard deviation).
        shimmer: amplitude perturbation (relative standard deviation).
        level_db: the speaker's loudness offset.
    """

    name: str
    gender: str
    f0_hz: float
    accent_st: float
    formant_scale: float
    rate_sps: float
    tilt_db_oct: float
    breathiness: float
    jitter: float
    shimmer: float
    level_db: float

    def __post_init__(self):
        if self.gender not in ("m", "f"):
            raise ValueError(f"VoiceProfile.gender must be 'm' or 'f'; received {self.gender!r}.")
        if not 50.0 <= self.f0_hz <= 400.0:
            raise ValueError(f"VoiceProfile.f0_hz must be in [50, 400]; received {self.f0_hz!r}.")
        if self.rate_sps <= 0 or self.formant_scale <= 0:
            raise ValueError(
                "VoiceProfile.rate_sps and formant_scale must be > 0; received "
                f"{self.rate_sps!r}, {self.formant_scale!r}."
            )


def sample_voice(rng: np.random.Generator, name: str, gender: str | None = None) -> VoiceProfile:
    """Draws a speaker's voice.

    Args:
        rng: the speaker's random stream.
        name: the speaker id.
        gender: "m", "f", or None to draw one (even odds).

    Returns:
        A `VoiceProfile`.

    Example:

    >>> from kerasemo.data.synthetic.seeding import rng_for
    >>> sample_voice(rng_for(0, "s"), "s1", "f").f0_hz > 160
    True
    """
    if gender is None:
        gender = "m" if rng.random() < 0.5 else "f"
    male = gender == "m"
    return VoiceProfile(
        name=name,
        gender=gender,
        f0_hz=float(rng.uniform(90.0, 145.0) if male else rng.uniform(170.0, 240.0)),
        accent_st=float(rng.uniform(1.5, 3.5)),
        formant_scale=float(rng.uniform(0.94, 1.06) if male else rng.uniform(1.1, 1.22)),
        rate_sps=float(rng.uniform(3.8, 5.2)),
        tilt_db_oct=float(rng.uniform(-1.5, 1.5)),
        breathiness=float(rng.uniform(0.02, 0.06) if male else rng.uniform(0.04, 0.1)),
        jitter=float(rng.uniform(0.004, 0.008)),
        shimmer=float(rng.uniform(0.03, 0.06)),
        level_db=float(rng.uniform(-3.0, 3.0)),
    )


@dataclasses.dataclass
class Utterance:
    """A synthesised waveform and the controls that produced it.

    Attributes:
        waveform: float32 samples in [-1, 1].
        sample_rate: Hz.
        f0: F0 in Hz at `CONTROL_RATE`, NaN where the voice is silent or unvoiced.
        voicing: voiced envelope (0..1) at `CONTROL_RATE`: how open the mouth is.
    """

    waveform: np.ndarray
    sample_rate: int
    f0: np.ndarray
    voicing: np.ndarray

    @property
    def duration(self) -> float:
        return self.waveform.shape[0] / self.sample_rate

    def mouth_opening(self, times) -> np.ndarray:
        """Speech-driven mouth opening (0..1) at `times` (seconds), smoothed over 40 ms."""
        kernel = np.ones(CONTROL_RATE // 25) / (CONTROL_RATE // 25)
        smooth = np.convolve(self.voicing, kernel, mode="same")
        grid = np.arange(smooth.size) / CONTROL_RATE
        return np.interp(np.asarray(times, np.float64), grid, smooth).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Wavetables: band-limited glottal pulses, one table per F0 band.

_TABLE_SIZE = 2048
_BAND_EDGES = np.array([80.0, 113.0, 160.0, 226.0, 320.0, 452.0, 640.0])


def _wavetables(sample_rate: int) -> np.ndarray:
    """[bands, TABLE_SIZE + 1] glottal pulses (harmonic k amplitude 1/k) without aliasing."""
    x = np.arange(_TABLE_SIZE + 1) / _TABLE_SIZE
    ceiling = min(7500.0, 0.47 * sample_rate)
    tables = []
    for edge in _BAND_EDGES:
        harmonics = max(1, int(ceiling // edge))
        k = np.arange(1, harmonics + 1)[:, None]
        # Alternating-phase sine series: a sawtooth-like pulse whose spectrum falls 6 dB/oct.
        tables.append((np.sin(2 * np.pi * k * x[None, :]) / k).sum(axis=0))
    tables = np.asarray(tables)
    return (tables / np.sqrt(np.mean(tables[:, :-1] ** 2, axis=1, keepdims=True))).astype(np.float32)


_TABLE_CACHE: dict[int, np.ndarray] = {}


def _tables_for(sample_rate: int) -> np.ndarray:
    if sample_rate not in _TABLE_CACHE:
        _TABLE_CACHE[sample_rate] = _wavetables(sample_rate)
    return _TABLE_CACHE[sample_rate]


def _glottal_source(f0: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Band-limited pulse train following per-sample `f0`; also returns the phase (0..1)."""
    phase = np.cumsum(f0, dtype=np.float64) / sample_rate
    phase -= np.floor(phase)
    tables = _tables_for(sample_rate)
    band = np.searchsorted(_BAND_EDGES, f0).clip(0, len(_BAND_EDGES) - 1)
    position = (phase * _TABLE_SIZE).astype(np.float32)
    index = position.astype(np.int32)
    frac = position - index
    flat = tables.reshape(-1)
    base = band * (_TABLE_SIZE + 1) + index
    low = flat[base]
    high = flat[base + 1]
    return low + frac * (high - low), phase.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Syllable schedule.


@dataclasses.dataclass
class _Syllables:
    start: np.ndarray  # seconds
    nucleus_start: np.ndarray
    end: np.ndarray
    vowel: np.ndarray
    accent: np.ndarray  # 0..1
    stress_db: np.ndarray
    final: np.ndarray  # bool, last syllable of its phrase
    fricative_gain: np.ndarray
    fricative_centre: np.ndarray  # Hz
    phrase_start: np.ndarray  # start of each phrase (seconds)
    pauses: list  # (start, end) of pauses longer than 0.25 s

    def __len__(self) -> int:
        return len(self.start)


def _schedule(
    rng: np.random.Generator,
    duration: float,
    rate: np.ndarray,
    pause: np.ndarray,
) -> _Syllables:
    """Places syllables and phrase pauses; `rate`/`pause` are factors at `CONTROL_RATE`."""
    most = int(duration * 12) + 4
    draws = {
        "dur": rng.uniform(0.7, 1.3, most),
        "cons": np.where(rng.random(most) < 0.65, rng.uniform(0.15, 0.35, most), 0.0),
        "vowel": rng.integers(0, len(_VOWEL_FORMANTS), most),
        "accent": np.where(rng.random(most) < 0.35, rng.uniform(0.6, 1.0, most), rng.uniform(0.0, 0.2, most)),
        "stress": rng.uniform(-4.0, 0.0, most),
        "pause": rng.uniform(0.15, 0.45, most),
        "phrase": rng.integers(3, 8, most),
        "fric_gain": rng.uniform(0.15, 0.45, most),
        "fric_centre": rng.choice([2500.0, 3800.0, 5200.0], most),
    }
    t = float(rng.uniform(0.05, 0.3))
    last = len(rate) - 1
    starts, ends, finals, phrase_starts, pauses = [], [], [], [t], []
    phrase_len, phrase_count = int(draws["phrase"][0]), 0
    for k in range(most):
        i = min(int(t * CONTROL_RATE), last)
        length = draws["dur"][k] / rate[i]
        if t + length > duration - 0.06:
            break
        starts.append(t)
        ends.append(t + 0.93 * length)
        t += length
        phrase_count += 1
        final = phrase_count >= phrase_len
        finals.append(final)
        if final:
            gap = draws["pause"][k] * pause[i]
            if gap > 0.25:
                pauses.append((t, t + gap))
            t += gap
            phrase_starts.append(t)
            phrase_count, phrase_len = 0, int(draws["phrase"][k])
    n = len(starts)
    start = np.asarray(starts)
    end = np.asarray(ends)
    accent = draws["accent"][:n]
    return _Syllables(
        start=start,
        nucleus_start=start + draws["cons"][:n] * (end - start),
        end=end,
        vowel=draws["vowel"][:n],
        accent=accent,
        stress_db=draws["stress"][:n] + 3.0 * accent,
        final=np.asarray(finals, bool),
        fricative_gain=draws["fric_gain"][:n],
        fricative_centre=draws["fric_centre"][:n],
        phrase_start=np.asarray(phrase_starts),
        pauses=pauses,
    )


def _bump(u: np.ndarray) -> np.ndarray:
    """0 outside [0, 1); a smooth rise-and-fall inside (fast attack, slower decay)."""
    inside = (u >= 0) & (u < 1)
    u = np.clip(u, 0.0, 1.0)
    return np.where(inside, np.sqrt(np.sin(np.pi * u**0.8)), 0.0)


# ---------------------------------------------------------------------------------------------
# Frequency responses.


def _cascade_response(freqs: np.ndarray, centres: np.ndarray, bandwidths: np.ndarray, sr: int) -> np.ndarray:
    """|H| of cascaded 2-pole resonators, unit gain at 0 Hz: centres [S, K] -> [S, bins]."""
    omega = 2 * np.pi * freqs / sr  # [bins]
    r = np.exp(-np.pi * bandwidths / sr)[None, :, None]  # [1, K, 1]
    c = np.cos(2 * np.pi * centres / sr)[:, :, None]  # [S, K, 1]
    cos1, sin1 = np.cos(omega), np.sin(omega)
    cos2, sin2 = np.cos(2 * omega), np.sin(2 * omega)
    real = 1 - 2 * r * c * cos1 + r * r * cos2
    imag = 2 * r * c * sin1 - r * r * sin2
    dc = 1 - 2 * r * c + r * r
    return np.prod(np.abs(dc) / np.sqrt(real * real + imag * imag), axis=1)


def _vowel_responses(
    syllables: _Syllables, voice: VoiceProfile, f1_shift: np.ndarray, rng: np.random.Generator,
    freqs: np.ndarray, sr: int,
) -> np.ndarray:
    """Per-syllable formant responses [S, bins], each normalised to unit source-weighted power."""
    centres = _VOWEL_FORMANTS[syllables.vowel] * voice.formant_scale
    centres = centres * rng.uniform(0.95, 1.05, centres.shape)
    centres[:, 0] *= 1.0 + f1_shift
    centres = np.minimum(centres, 0.45 * sr)
    response = _cascade_response(freqs, centres, _FORMANT_BANDWIDTHS, sr)
    weight = 1.0 / np.maximum(freqs, 80.0) ** 2  # power of the 1/k source
    power = (response**2 * weight).sum(axis=1, keepdims=True) / weight.sum()
    return response / np.sqrt(power)


def _fricative_responses(syllables: _Syllables, voice: VoiceProfile, freqs: np.ndarray) -> np.ndarray:
    centre = syllables.fricative_centre[:, None] * min(voice.formant_scale, 1.1)
    return 0.08 + np.exp(-0.5 * ((freqs[None, :] - centre) / 1500.0) ** 2)


def _overlap_add_filter(
    voiced: np.ndarray,
    noise: np.ndarray,
    voiced_response: np.ndarray,
    noise_response: np.ndarray,
    hop: int,
) -> np.ndarray:
    """Filters two sources with per-frame zero-phase responses ([frames, bins]) and sums them."""
    n = voiced.shape[0]
    frame, nfft = 2 * hop, 4 * hop
    frames = voiced_response.shape[0]
    padded = frames * hop + frame
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)).astype(np.float32)
    index = (np.arange(frames) * hop)[:, None] + np.arange(frame)[None, :]

    def spectrum(x):
        x = np.concatenate([np.zeros(hop, np.float32), x, np.zeros(padded - n - hop, np.float32)])
        return np.fft.rfft(x[index] * window, nfft)

    out = np.fft.irfft(spectrum(voiced) * voiced_response + spectrum(noise) * noise_response, nfft)
    out = np.roll(out, hop, axis=1).astype(np.float32)  # negative times of the zero-phase filter
    chunks = out.reshape(frames, 4, hop)
    total = np.zeros((frames + 3, hop), np.float32)
    for j in range(4):
        total[j : j + frames] += chunks[:, j]
    # Frame m covered padded samples [m*hop, m*hop + frame), i.e. signal samples from
    # (m - 1)*hop; the rolled output starts one hop earlier still.
    flat = total.reshape(-1)
    return flat[2 * hop : 2 * hop + n]


# ---------------------------------------------------------------------------------------------
# The synthesiser.


def synthesise(
    voice: VoiceProfile,
    trajectory,
    duration: float | None = None,
    *,
    rng: np.random.Generator,
    sample_rate: int = SAMPLE_RATE,
    channel_gain_db: float = 0.0,
    noise_floor_db: float = -62.0,
) -> Utterance:
    """Synthesises `voice` speaking along an emotion `trajectory`.

    Args:
        voice: the speaker's `VoiceProfile`.
        trajectory: an object with ``weights(times, "voice") -> [T, 8]`` and ``duration``
            (an `EmotionTrajectory`).
        duration: seconds; defaults to ``trajectory.duration``.
        rng: the utterance's random stream (syllables, vowels, jitter, noise).
        sample_rate: output rate in Hz (16,000 for VoxCeleb/CREMA-D, 22,050 for RML).
        channel_gain_db: recording gain of the channel (per video / per session).
        noise_floor_db: level of the white background noise, dB re full scale RMS.

    Returns:
        An `Utterance` with a float32 waveform of ``round(duration * sample_rate)`` samples.

    Raises:
        ValueError: for a duration under 0.3 s or a sample rate under 8 kHz.

    Example:

    >>> from kerasemo.data.synthetic.seeding import rng_for
    >>> from kerasemo.data.synthetic.trajectories import constant_trajectory
    >>> voice = sample_voice(rng_for(0, "s"), "s1")
    >>> quiet = synthesise(voice, constant_trajectory(2.0, "sadness"), rng=rng_for(0, "u"))
    >>> loud = synthesise(voice, constant_trajectory(2.0, "anger"), rng=rng_for(0, "u"))
    >>> float(np.std(loud.waveform)) > 2 * float(np.std(quiet.waveform))
    True
    """
    duration = float(trajectory.duration if duration is None else duration)
    if duration < 0.3:
        raise ValueError(f"duration must be >= 0.3 s; received {duration!r}.")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be >= 8000 Hz; received {sample_rate!r}.")
    n = int(round(duration * sample_rate))
    n_ctrl = int(math.ceil(duration * CONTROL_RATE)) + 2
    t_ctrl = np.arange(n_ctrl) / CONTROL_RATE

    # Emotion -> prosody controls, blended over the emotion weights.
    weights = np.asarray(trajectory.weights(t_ctrl, "voice"), np.float64)
    blended = weights @ _PROSODY_MATRIX
    p = {f: (np.exp(blended[:, i]) if f in _FACTOR_FIELDS else blended[:, i]) for i, f in enumerate(_FIELDS)}

    syl = _schedule(rng, duration, voice.rate_sps * p["rate"], p["pause"])
    index_ctrl = np.searchsorted(syl.start, t_ctrl, side="right") - 1
    valid = index_ctrl >= 0
    safe = np.maximum(index_ctrl, 0)
    if len(syl) == 0:
        valid[:] = False
        safe[:] = 0
        syl = dataclasses.replace(
            syl, **{k: np.zeros(1) for k in ("start", "nucleus_start", "end", "accent", "stress_db",
                                            "fricative_gain", "fricative_centre")},
            vowel=np.zeros(1, int), final=np.zeros(1, bool),
        )

    # Envelopes at control rate.
    nucleus_u = (t_ctrl - syl.nucleus_start[safe]) / np.maximum(syl.end[safe] - syl.nucleus_start[safe], 1e-3)
    voiced_env = np.where(valid, _bump(nucleus_u), 0.0)
    cons_len = syl.nucleus_start[safe] - syl.start[safe]
    cons_u = np.where(cons_len > 0, (t_ctrl - syl.start[safe]) / np.maximum(cons_len, 1e-3), -1.0)
    cons_env = np.where(valid, np.sin(np.pi * np.clip(cons_u, 0, 1)) * ((cons_u >= 0) & (cons_u < 1)), 0.0)
    cons_env *= syl.fricative_gain[safe]
    for start, end in syl.pauses:  # inhalation in long pauses
        u = (t_ctrl - start - 0.05) / max(end - start - 0.1, 1e-3)
        cons_env += 0.06 * _bump(u)

    # F0 contour (semitones re the speaker's base F0).
    phrase = np.maximum(np.searchsorted(syl.phrase_start, t_ctrl, side="right") - 1, 0)
    phrase_end = np.append(syl.phrase_start[1:], duration)[phrase]
    phrase_start = syl.phrase_start[phrase]
    progress = np.clip((t_ctrl - phrase_start) / np.maximum(phrase_end - phrase_start, 0.1), 0, 1)
    semitones = p["f0_shift_st"] - 2.0 * progress
    impulses = np.zeros(n_ctrl)
    centres = np.clip(((syl.nucleus_start + syl.end) / 2 * CONTROL_RATE).astype(int), 0, n_ctrl - 1)
    np.add.at(impulses, centres, syl.accent * voice.accent_st * p["f0_range"][centres])
    sigma = 0.05 * CONTROL_RATE
    kernel = np.exp(-0.5 * (np.arange(-3 * sigma, 3 * sigma + 1) / sigma) ** 2)
    semitones += np.convolve(impulses, kernel, mode="same")
    final_u = np.clip(nucleus_u, 0.0, 1.0) * syl.final[safe] * valid
    semitones += final_u * p["final_st"]
    knots = rng.normal(0.0, 0.5, int(duration * 2) + 2)
    semitones += np.interp(t_ctrl, np.arange(knots.size) * 0.5, knots)
    jitter = 1.0 + (voice.jitter + p["jitter"]) * rng.standard_normal(n_ctrl)
    f0_ctrl = np.clip(voice.f0_hz * 2.0 ** (semitones / 12.0) * jitter, 55.0, 600.0)

    shimmer = np.clip(1.0 + (voice.shimmer + p["shimmer"]) * rng.standard_normal(n_ctrl), 0.3, None)
    stress = 10.0 ** (syl.stress_db[safe] / 20.0)
    amp_ctrl = voiced_env * shimmer * stress
    breath_ctrl = voiced_env * voice.breathiness * p["breath"]
    gain_ctrl = REFERENCE_RMS * 10.0 ** ((voice.level_db + p["energy_db"] + channel_gain_db) / 20.0)

    # Per-sample source.
    t = np.arange(n, dtype=np.float64) / sample_rate
    f0 = np.interp(t, t_ctrl, f0_ctrl).astype(np.float32)
    pulses, phase = _glottal_source(f0, sample_rate)
    noise = rng.standard_normal((2, n), dtype=np.float32)
    pulsed = 0.6 + 0.4 * np.cos(2 * np.pi * phase)
    voiced = pulses * np.interp(t, t_ctrl, amp_ctrl).astype(np.float32)
    voiced += noise[0] * pulsed * np.interp(t, t_ctrl, breath_ctrl * 3.0).astype(np.float32)
    fricative = noise[1] * np.interp(t, t_ctrl, cons_env).astype(np.float32)

    # Per-frame filters.
    hop = 128 if sample_rate <= 24000 else 256
    frames = -(-n // hop) + 1
    freqs = np.fft.rfftfreq(4 * hop, 1.0 / sample_rate)
    frame_times = np.arange(frames) * hop / sample_rate  # frame m is centred on sample m * hop
    frame_syllable = np.maximum(np.searchsorted(syl.start, frame_times, side="right") - 1, 0)
    f1_shift = p["f1_shift"][np.clip((syl.nucleus_start * CONTROL_RATE).astype(int), 0, n_ctrl - 1)]
    vowel = _vowel_responses(syl, voice, f1_shift, rng, freqs, sample_rate)
    fric = _fricative_responses(syl, voice, freqs)
    tilt = np.interp(frame_times, t_ctrl, p["tilt_db_oct"]) + voice.tilt_db_oct
    octaves = np.log2(np.maximum(freqs, 100.0) / 500.0)
    tilt_gain = np.exp(tilt[:, None] * octaves[None, :] * (np.log(10.0) / 20.0))
    voiced_response = (vowel[frame_syllable] * tilt_gain).astype(np.float32)
    noise_response = fric[frame_syllable].astype(np.float32)
    out = _overlap_add_filter(voiced, fricative, voiced_response, noise_response, hop)

    out *= np.interp(t, t_ctrl, gain_ctrl).astype(np.float32)
    out += (10.0 ** (noise_floor_db / 20.0)) * rng.standard_normal(n, dtype=np.float32)
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak > 0.9:  # soft limiter, only for the loudest clips
        out = (0.95 * np.tanh(out / 0.95)).astype(np.float32)
    f0_shown = np.where(voiced_env > 0.2, f0_ctrl, np.nan)
    return Utterance(
        out.astype(np.float32), sample_rate, f0_shown.astype(np.float32), voiced_env.astype(np.float32)
    )
