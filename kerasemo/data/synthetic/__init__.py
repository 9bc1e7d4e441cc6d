"""A synthetic audio-visual emotion corpus in the real datasets' on-disk formats.

The real data (FERPlus, VoxCeleb, RML, eNTERFACE, CREMA-D) cannot be downloaded everywhere,
yet the pipeline must run out of the box and show that emotion transfers from faces to voices.
`generate_corpus` writes a corpus with the structure of the real problem, in the real formats,
so the project's own readers are what a demo exercises:

1. **Faces, FERPlus format** (``ferplus/fer2013.csv`` + ``fer2013new.csv``): procedural 48 x 48
   grey faces with the eight expressions (`faces`), varied identity, pose, intensity and noise;
   ten simulated annotators whose votes make related emotions ambiguous (`annotators`); a few
   unreadable and not-a-face rows so FERPlus's cleaning rules have work to do (`face_set`).
2. **Talking-face tracks, VoxCeleb1 layout** (``voxceleb/``): per identity a voice, a face and an
   emotional bias; per track a latent emotion trajectory, mostly neutral with episodes skewed
   like the paper's Figure 4 (`trajectories`); 16 kHz speech whose prosody shows the voice's
   emotion (`voice`); face crops every 6th frame at 25 fps showing the face's emotion with
   neutral transition frames; face-track txt files; optionally mp4 videos (`tracks`). The voice
   departs from the face in a controlled share of episodes.
3. **Acted speech for probes** (``rml/`` AVI at 22,050 Hz, ``cremad/AudioWAV``): speakers unseen
   in the tracks, balanced classes (`acted`).
4. **Ground truth** (``ground_truth/``): the latent emotion of every face, track segment, crop
   and clip, for evaluation only; `forbid_ground_truth` lets tests prove that training-side
   code never opens it (`guard`).

Plus ``contact_sheet.png`` (faces and spectrograms per emotion, `contact_sheet`),
``corpus.json`` (preset, seed, sizes, time, versions) and ``README.txt``.

Everything is deterministic from the seed (`seeding`); sizes come from a preset (`presets`).

Example:

>>> from kerasemo.data.synthetic import generate_corpus
>>> summary = generate_corpus("data/synthetic", preset="tiny", seed=0)  # doctest: +SKIP
>>> summary.path("ferplus")  # doctest: +SKIP
PosixPath('.../data/synthetic/ferplus')
"""

from kerasemo.data.synthetic.corpus import (
    GENERATOR_VERSION,
    CorpusExistsError,
    CorpusSummary,
    generate_corpus,
    read_summary,
)
from kerasemo.data.synthetic.guard import GROUND_TRUTH_DIRNAME, GroundTruthAccessError, forbid_ground_truth
from kerasemo.data.synthetic.presets import PRESETS, SyntheticPreset, get_preset

__all__ = [
    "CorpusExistsError",
    "CorpusSummary",
    "GENERATOR_VERSION",
    "GROUND_TRUTH_DIRNAME",
    "GroundTruthAccessError",
    "PRESETS",
    "SyntheticPreset",
    "forbid_ground_truth",
    "generate_corpus",
    "get_preset",
    "read_summary",
]
