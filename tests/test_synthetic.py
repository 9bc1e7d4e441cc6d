"""The synthetic corpus: layout and formats, determinism, learnability bands, the ground-truth
guard, the voice and face models, and the `make_synthetic` entry point.

One ``tiny`` corpus is generated per module (through the CLI) and shared; the determinism test
generates a second one. The learnability tests state their bands in their docstrings; the
bands come from measurements on the tiny and demo presets (seed 0) and are wide enough for other
seeds, yet both ends can fail: a corpus whose classes did not separate, or separated perfectly,
would fail them.
"""

import hashlib
import json
import logging
import os
import pathlib
import re

import av
import numpy as np
import pandas as pd
import pytest
import soundfile
from PIL import Image

from kerasemo import emotions
from kerasemo.data.synthetic import (
    GROUND_TRUTH_DIRNAME,
    PRESETS,
    CorpusExistsError,
    GroundTruthAccessError,
    SyntheticPreset,
    forbid_ground_truth,
    generate_corpus,
    get_preset,
    read_summary,
)
from kerasemo.data.synthetic import annotators, faces, trajectories, voice
from kerasemo.data.synthetic.contact_sheet import display_spectrogram
from kerasemo.data.synthetic.seeding import rng_for
from kerasemo.experiments import make_synthetic

VOTE_COLUMNS = list(emotions.CLASSES) + ["unknown", "NF"]
FERPLUS_HEADER = ["Usage", "Image name"] + VOTE_COLUMNS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> pathlib.Path:
    """The tiny corpus, written once per module through the CLI."""
    root = tmp_path_factory.mktemp("synthetic") / "corpus"
    assert make_synthetic.main(["--out", str(root), "--preset", "tiny", "--seed", "0", "--quiet"]) == 0
    return root


@pytest.fixture(scope="module")
def truth(corpus) -> dict:
    """The ground-truth tables (read by the tests, as evaluation code would)."""
    folder = corpus / GROUND_TRUTH_DIRNAME
    return {
        name: pd.read_csv(folder / f"{name}.csv", keep_default_na=False, dtype={"track": str})
        for name in ("faces", "tracks", "frames", "acted", "identities")
    }


@pytest.fixture
def single_thread_blas():
    """Small scikit-learn fits are much faster (and steadier) without BLAS threads on 2 cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def ferplus_keep(votes: np.ndarray, names) -> dict[str, np.ndarray]:
    """The FERPlus vote-cleaning rules (microsoft/FERPlus), written independently of the project's reader.

    Returns a mask per rule (True = the rule drops the row) and the kept mask.
    """
    votes = np.asarray(votes, float).copy()
    votes[votes <= 1] = 0
    total = votes.sum(axis=1)
    top = votes.max(axis=1)
    tied = (votes == top[:, None]).sum(axis=1)
    rules = {
        "not_a_face": pd.isna(names) | (pd.Series(names).astype(str) == ""),
        "unknown_or_nf_top": votes[:, 8:].max(axis=1) >= votes[:, :8].max(axis=1),
        "three_tied": tied >= 3,
        "weak_majority": tied * top <= total / 2,
    }
    rules["not_a_face"] = np.asarray(rules["not_a_face"])
    rules["kept"] = ~np.any(np.stack(list(rules.values())), axis=0)
    rules["label"] = votes[:, :8].argmax(axis=1)
    return rules


def f0_track(x: np.ndarray, sr: int, fmin: float = 70.0, fmax: float = 400.0):
    """A plain autocorrelation pitch tracker (40 ms frames, 10 ms hop); written for the test."""
    hop, win = int(0.01 * sr), int(0.04 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), win)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames**2).sum(axis=1)
    acf = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * win)) ** 2)[:, :win]
    lo, hi = int(sr / fmax), int(sr / fmin)
    lag = lo + acf[:, lo:hi].argmax(axis=1)
    clarity = acf[np.arange(len(acf)), lag] / (acf[:, 0] + 1e-12)
    voiced = (clarity > 0.5) & (energy > 1e-3 * energy.max())
    return sr / lag, voiced, energy


def prosody_features(x: np.ndarray, sr: int) -> list[float]:
    """F0 mean/std/range (semitones), level mean/std (dB), voiced and active fractions."""
    f0, voiced, energy = f0_track(x, sr)
    semitones = 12 * np.log2(f0[voiced] / 100.0) if voiced.sum() > 2 else np.zeros(3)
    level = 10 * np.log10(energy + 1e-10)
    active = level > level.max() - 40
    return [
        semitones.mean(), semitones.std(), np.percentile(semitones, 90) - np.percentile(semitones, 10),
        level[active].mean(), level[active].std(), voiced.mean(), active.mean(),
    ]


# ---------------------------------------------------------------------------------------------
# Layout and formats.


def test_corpus_layout_summary_and_readme(corpus):
    assert sorted(p.name for p in corpus.iterdir()) == sorted(
        ["README.txt", "contact_sheet.png", "corpus.json", "cremad", "ferplus", GROUND_TRUTH_DIRNAME, "rml", "voxceleb"]
    )
    summary = read_summary(corpus)
    assert summary.preset == get_preset("tiny").to_dict() and summary.seed == 0
    counts = summary.counts
    assert counts["faces"] == PRESETS["tiny"].num_faces
    assert counts["tracks"] == len(list((corpus / "voxceleb" / "wav").rglob("*.wav")))
    assert counts["face_crops"] == len(list((corpus / "voxceleb" / "frames").rglob("*.jpg")))
    assert counts["tracks_under_4s"] >= 1  # zero-padding is exercised
    assert counts["bytes"] > 1e6
    assert summary.layout["voxceleb"]["video_size"] == [128, 72]
    assert "SYNTHETIC" in (corpus / "README.txt").read_text()
    with Image.open(corpus / "contact_sheet.png") as sheet:
        assert sheet.size[0] >= 1200 and sheet.size[1] >= 900
    # No absolute path of the machine that generated it leaks into what is written.
    assert str(corpus.resolve().parent) not in (corpus / "corpus.json").read_text()


def test_ferplus_csvs_have_the_real_format(corpus, truth):
    fer = pd.read_csv(corpus / "ferplus" / "fer2013.csv")
    plus = pd.read_csv(corpus / "ferplus" / "fer2013new.csv")
    assert list(fer.columns) == ["emotion", "pixels", "Usage"]
    assert list(plus.columns) == FERPLUS_HEADER
    assert len(fer) == len(plus) == PRESETS["tiny"].num_faces
    assert (fer.Usage == plus.Usage).all()
    shares = fer.Usage.value_counts(normalize=True)
    assert set(shares.index) == {"Training", "PublicTest", "PrivateTest"}
    assert abs(shares["Training"] - 0.8) < 0.02 and abs(shares["PrivateTest"] - 0.1) < 0.02
    pixels = np.stack([np.array(p.split(), int) for p in fer.pixels[:50]])
    assert pixels.shape == (50, 2304) and pixels.min() >= 0 and pixels.max() <= 255
    assert fer.emotion.between(0, 6).all()
    votes = plus[VOTE_COLUMNS].to_numpy()
    assert votes.dtype.kind == "i" and (votes.sum(axis=1) == 10).all()
    named = plus["Image name"].notna()
    assert plus.loc[named, "Image name"].str.fullmatch(r"fer\d{7}\.png").all()
    assert (~named).sum() == (truth["faces"].kind == "nonface").sum() > 0
    # FER2013's code is the majority among its seven emotions (contempt/unknown/NF ignored; ties
    # go to the class listed first in CLASSES).
    seven = [c for c in emotions.CLASSES if c != "contempt"]
    face_rows = named.to_numpy()
    majority = np.array(seven)[plus[seven].to_numpy().argmax(axis=1)]
    expected = [int(next(k for k, v in emotions.LABEL_MAPS["fer2013"].mapping.items() if v == m)) for m in majority]
    assert (fer.emotion.to_numpy()[face_rows] == np.array(expected)[face_rows]).all()
    # Votes are distributions, not one-hot labels.
    assert (votes[face_rows].max(axis=1) < 10).mean() > 0.5


def test_every_ferplus_cleaning_rule_is_triggered(corpus):
    plus = pd.read_csv(corpus / "ferplus" / "fer2013new.csv")
    votes = plus[VOTE_COLUMNS].to_numpy()
    rules = ferplus_keep(votes, plus["Image name"].to_numpy())
    assert ((votes == 1).sum(axis=1) > 0).sum() > 100, "single outlier votes must be common"
    named = ~rules["not_a_face"]
    assert rules["not_a_face"].sum() >= 3
    assert (rules["unknown_or_nf_top"] & named).sum() >= 3, "named faces whose top vote is unknown"
    for rule in ("three_tied", "weak_majority"):
        other = "weak_majority" if rule == "three_tied" else "three_tied"
        only = rules[rule] & named & ~rules["unknown_or_nf_top"] & ~rules[other]
        assert only.sum() >= 3, f"rule {rule} is the only reason to drop just {only.sum()} rows"
    assert 0.8 < rules["kept"].mean() < 0.97
    # The project's reader agrees, if present.
    ferplus = pytest.importorskip("kerasemo.data.ferplus")
    data = ferplus.read_ferplus(corpus / "ferplus")
    assert len(data) == rules["kept"].sum()


def test_voxceleb_txt_wav_and_crops(corpus, truth):
    vox = corpus / "voxceleb"
    txts = sorted((vox / "txt").rglob("*.txt"))
    assert txts
    durations = []
    for txt in txts:
        identity, video, track = txt.parts[-3], txt.parts[-2], txt.stem
        assert re.fullmatch(r"id\d{5}", identity) and re.fullmatch(r"[A-Za-z0-9_-]{11}", video)
        assert re.fullmatch(r"\d{5}", track)
        lines = txt.read_text().split("\n")
        assert lines[0] == f"Identity  : \t{identity}" and lines[1] == f"Reference : \t{video}"
        assert lines[2].startswith("Offset    : \t") and re.fullmatch(r"FV Conf   : \t[\d.]+\t\(1\)", lines[3])
        assert lines[4].startswith("ASD Conf  : \t") and lines[5] == ""
        assert lines[6] == "FRAME \tX \tY \tW \tH "
        rows = np.array([[int(v) for v in line.split()] for line in lines[7:] if line])
        assert (np.diff(rows[:, 0]) == 1).all(), "one row per consecutive 25 fps frame"
        x, y, w, h = rows[:, 1:].T
        assert (x >= 0).all() and (y >= 0).all() and (x + w <= 640).all() and (y + h <= 360).all()
        wav = vox / "wav" / identity / video / f"{track}.wav"
        info = soundfile.info(wav)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames == len(rows) * 640  # 16000 / 25 samples per video frame
        durations.append(info.frames / 16000)
        crops = sorted((vox / "frames" / identity / "1.6" / video / track).glob("*.jpg"))
        numbers = [int(p.stem) for p in crops]
        assert numbers == list(range(rows[0, 0], rows[-1, 0] + 1, 6))
        assert all(len(p.stem) == 7 for p in crops)
    assert min(durations) < 4.0 < max(durations)
    with Image.open(crops[0]) as image:
        assert image.size == (64, 64) and image.mode == "RGB"
    meta = pd.read_csv(vox / "vox1_meta.csv", sep="\t")
    assert list(meta.columns) == ["VoxCeleb1 ID", "VGGFace1 ID", "Gender", "Nationality", "Set"]
    assert set(meta["VoxCeleb1 ID"]) == {t.parts[-3] for t in txts}
    assert len(truth["frames"]) == sum(1 for _ in (vox / "frames").rglob("*.jpg"))


def test_track_mp4s_decode_with_pyav_and_load_audio(corpus):
    from kerasemo.audio import load_audio

    vox = corpus / "voxceleb"
    videos = sorted((vox / "video").rglob("*.mp4"))
    assert len(videos) == len(list((vox / "wav").rglob("*.wav")))
    for path in videos[:3]:
        identity, video, track = path.parts[-3], path.parts[-2], path.stem
        rows = (vox / "txt" / identity / video / f"{track}.txt").read_text().strip().split("\n")[7:]
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.average_rate == 25 and (stream.width, stream.height) == (128, 72)
            assert sum(1 for _ in container.decode(video=0)) == len(rows)
        decoded = load_audio(path)
        reference, _ = soundfile.read(vox / "wav" / identity / video / f"{track}.wav", dtype="float32")
        assert decoded.shape == reference.shape
        assert np.corrcoef(decoded, reference)[0, 1] > 0.95  # AAC is lossy


def test_rml_avi_and_cremad_wav(corpus, truth):
    from kerasemo.audio import load_audio

    acted = truth["acted"]
    rml = acted[acted.dataset == "rml"]
    depths = {len(pathlib.PurePosixPath(p).parts) for p in rml.path}
    assert len(depths) >= 3, "RML folder depth varies by subject"
    for path in rml.path:
        assert emotions.map_label("rml", pathlib.PurePosixPath(path).name[:2]) in emotions.ACTED_SIX
    assert rml.groupby("speaker").emotion.value_counts().nunique() == 1, "balanced per subject"
    sample = rml.iloc[0]
    waveform = load_audio(corpus / sample.path)  # 22,050 Hz PCM resampled to 16 kHz
    assert abs(waveform.shape[0] - round(sample.seconds * 16000)) <= 2
    with av.open(str(corpus / sample.path)) as container:
        assert container.streams.audio[0].sample_rate == 22050
        assert container.streams.video[0].codec_context.name == "mjpeg"
        assert sum(1 for _ in container.decode(video=0)) > 10

    cremad = acted[acted.dataset == "cremad"]
    names = sorted(p.name for p in (corpus / "cremad" / "AudioWAV").glob("*.wav"))
    assert len(names) == len(cremad) and len(set(names)) == len(names)
    for name in names:
        actor, sentence, emo, level = pathlib.Path(name).stem.split("_")
        assert 1001 <= int(actor) <= 1091 and emotions.map_label("cremad", emo) is not None
        assert level == "XX" or sentence == "IEO"
    assert set(cremad.emotion) == {"anger", "disgust", "fear", "happiness", "neutral", "sadness"}
    assert soundfile.info(corpus / cremad.path.iloc[0]).samplerate == 16000
    # Acted speakers never speak in the tracks.
    assert not set(acted.speaker) & set(truth["identities"].identity)


def test_ground_truth_is_consistent(corpus, truth):
    segments = truth["tracks"]
    for _, track in segments.groupby(["identity", "video", "track"]):
        starts, ends = track.start.to_numpy(), track.end.to_numpy()
        assert starts[0] == 0 and np.allclose(starts[1:], ends[:-1], atol=1e-3)
        assert abs(ends[-1] - track.track_seconds.iloc[0]) < 1e-3
    episodes = segments[segments.face_emotion != "neutral"]
    assert (episodes.mismatch.astype(bool) == (episodes.face_emotion != episodes.voice_emotion)).all()
    faces_truth = truth["faces"]
    assert list(faces_truth.row) == list(range(PRESETS["tiny"].num_faces))
    assert set(faces_truth.kind) == set(annotators.ROW_KINDS)
    frames = truth["frames"]
    assert frames.transition.astype(bool).any(), "some labelled frames are neutral transitions"
    assert (truth["acted"].path.map(lambda p: (corpus / p).is_file())).all()


def test_project_readers_accept_the_corpus(corpus):
    voxceleb = pytest.importorskip("kerasemo.data.voxceleb")
    acted = pytest.importorskip("kerasemo.data.acted")
    for layout in ("voxceleb1", "frames"):
        tracks, report = voxceleb.scan(corpus, layout)
        assert len(tracks) == read_summary(corpus).counts["tracks"] and not report.skipped
    for name, folder in (("rml", "rml"), ("cremad", "cremad")):
        clips, report = acted.read_dataset(name, corpus / folder)
        assert len(clips) == read_summary(corpus).counts[f"{name}_clips"] and report.total == 0


# ---------------------------------------------------------------------------------------------
# The ground-truth guard.


def _read_training_inputs(corpus: pathlib.Path) -> int:
    """Everything a training-side reader may touch, read with generic tools and project readers."""
    from kerasemo.audio import load_audio

    opened = 0
    pd.read_csv(corpus / "ferplus" / "fer2013.csv")
    pd.read_csv(corpus / "ferplus" / "fer2013new.csv")
    for folder in ("voxceleb", "rml", "cremad"):
        for directory, _, files in os.walk(corpus / folder):
            for name in sorted(files):
                path = pathlib.Path(directory) / name
                if path.suffix in (".wav", ".mp4", ".avi"):
                    load_audio(path)
                elif path.suffix == ".jpg":
                    with Image.open(path) as image:
                        image.load()
                else:
                    path.read_bytes()
                opened += 1
    json.loads((corpus / "corpus.json").read_text())
    for module, call in (
        ("kerasemo.data.ferplus", lambda m: m.read_ferplus(corpus / "ferplus")),
        ("kerasemo.data.voxceleb", lambda m: m.scan(corpus, "voxceleb1")),
        ("kerasemo.data.acted", lambda m: m.read_dataset("rml", corpus / "rml")),
    ):
        try:
            imported = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        call(imported)
    return opened


def test_training_inputs_are_read_without_opening_ground_truth(corpus):
    with forbid_ground_truth(corpus):
        assert _read_training_inputs(corpus) > 100
        # A reader that walks the whole corpus root sees no ground-truth file (os.walk skips
        # the folder it may not list).
        walked = [pathlib.Path(d) / f for d, _, files in os.walk(corpus) for f in files]
        assert walked and not any(GROUND_TRUTH_DIRNAME in p.parts for p in walked)
    assert (corpus / GROUND_TRUTH_DIRNAME / "faces.csv").is_file()


@pytest.mark.parametrize(
    "attempt",
    [
        lambda gt: open(gt / "faces.csv"),
        lambda gt: (gt / "tracks.csv").read_text(),
        lambda gt: pd.read_csv(gt / "acted.csv"),
        lambda gt: os.listdir(gt),
        lambda gt: sorted(gt.iterdir()),
        lambda gt: soundfile.info(gt / "faces.csv"),
        lambda gt: av.open(str(gt / "faces.csv")),
    ],
    ids=["open", "read_text", "pandas", "listdir", "iterdir", "soundfile", "pyav"],
)
def test_guard_blocks_every_way_into_ground_truth(corpus, attempt):
    ground_truth = corpus / GROUND_TRUTH_DIRNAME
    with forbid_ground_truth(corpus), pytest.raises(GroundTruthAccessError, match="only evaluation"):
        attempt(ground_truth)
    pd.read_csv(ground_truth / "acted.csv")  # allowed again once the guard is gone
    assert soundfile.SoundFile.__init__.__name__ == "__init__" and not hasattr(av.open, "__wrapped__")


# ---------------------------------------------------------------------------------------------
# Determinism.


def _hashes(root: pathlib.Path) -> dict[str, str]:
    """SHA-1 of every file except corpus.json (it records the generation time)."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "corpus.json"
    }


@pytest.mark.slow
def test_same_seed_gives_identical_files_and_another_seed_does_not(corpus, tmp_path):
    """Hashes every file (CSVs, WAVs, txt, JPEGs, AVIs, MP4s, ground truth, the contact sheet)
    except corpus.json; with the same preset and seed all are byte-identical, whether the parts
    were generated in worker processes (the fixture) or in this process (here)."""
    again = generate_corpus(tmp_path / "again", preset="tiny", seed=0, workers=1)
    first, second = _hashes(corpus), _hashes(pathlib.Path(again.root))
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    other = _small_corpus_hashes(tmp_path / "other", seed=1)
    assert other["ferplus/fer2013.csv"] != first["ferplus/fer2013.csv"]


def _small_corpus_hashes(folder: pathlib.Path, seed: int) -> dict[str, str]:
    import dataclasses

    preset = dataclasses.replace(
        get_preset("tiny"), name="tiny-small", num_faces=200, num_identities=2, rml_subjects=1,
        rml_clips_per_emotion=1, cremad_actors=1, cremad_clips_per_emotion=1, write_videos=False,
    )
    generate_corpus(folder, preset=preset, seed=seed, contact_sheet=False, workers=1)
    return _hashes(folder)


# ---------------------------------------------------------------------------------------------
# Learnability bands.


FACE_BAND = (0.48, 0.85)
PROSODY_BAND = (0.35, 0.85)


def test_face_pixels_are_learnable_but_not_trivially(corpus, single_thread_blas):
    """Multinomial logistic regression on 16 x 16 pooled, per-image standardised pixels of the
    FERPlus rows kept by the cleaning rules, majority-vote labels, 5-fold stratified CV.

    Measured (seed 0): tiny 0.60, demo 0.62, against a majority-class rate of 0.38 and a chance
    rate of 1/8. Band: 0.48-0.85. Below means the expressions do not show in the pixels (or the
    votes do not follow them); above means the task is too easy to say anything about a teacher.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fer = pd.read_csv(corpus / "ferplus" / "fer2013.csv")
    plus = pd.read_csv(corpus / "ferplus" / "fer2013new.csv")
    rules = ferplus_keep(plus[VOTE_COLUMNS].to_numpy(), plus["Image name"].to_numpy())
    keep = rules["kept"]
    pixels = np.stack([np.array(p.split(), np.float32) for p in fer.pixels[keep]])
    pooled = pixels.reshape(-1, 16, 3, 16, 3).mean(axis=(2, 4)).reshape(len(pixels), -1)
    pooled = (pooled - pooled.mean(1, keepdims=True)) / (pooled.std(1, keepdims=True) + 1e-3)
    labels = rules["label"][keep]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=1000))
    scores = cross_val_score(classifier, pooled, labels, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    majority = np.bincount(labels).max() / len(labels)
    accuracy = scores.mean()
    assert FACE_BAND[0] <= accuracy <= FACE_BAND[1], (accuracy, majority)
    assert accuracy > majority + 0.1


def test_prosody_is_learnable_but_not_trivially(corpus, truth, single_thread_blas):
    """Logistic regression on seven prosody statistics (autocorrelation F0 mean/std/range in
    semitones, frame level mean/std in dB, voiced and active fractions) of the RML-like clips
    (6 balanced classes, 4 speakers), 5-fold stratified CV over clips.

    Measured (seed 0): tiny 0.53, demo 0.56 (CREMA-D-like 0.51); speaker-independent folds
    0.42-0.45; chance 1/6. Band: 0.35-0.85. Below means the voice hardly shows the emotion; above
    means simple statistics solve it and the student would learn nothing interesting.
    """
    from kerasemo.audio import load_audio
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rml = truth["acted"][truth["acted"].dataset == "rml"]
    features = np.array([prosody_features(load_audio(corpus / p), 16000) for p in rml.path])
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = cross_val_score(
        classifier, features, rml.emotion.to_numpy(), cv=StratifiedKFold(5, shuffle=True, random_state=0)
    )
    assert PROSODY_BAND[0] <= scores.mean() <= PROSODY_BAND[1], scores


# ---------------------------------------------------------------------------------------------
# Models: voice directions, speech-likeness, face expressions, trajectories, votes.


def _utterances(emotion: str, speakers: int = 4, seconds: float = 3.0):
    for s in range(speakers):
        speaker = voice.sample_voice(rng_for(7, "test-voice", s), f"s{s}", "m" if s % 2 else "f")
        yield speaker, voice.synthesise(
            speaker, trajectories.constant_trajectory(seconds, emotion, 1.0), rng=rng_for(7, "test-utt", s)
        )


def _voice_stats(emotion: str) -> dict[str, float]:
    f0, rms, syllables = [], [], []
    for speaker, utterance in _utterances(emotion):
        f0.append(12 * np.log2(np.nanmedian(utterance.f0) / speaker.f0_hz))
        rms.append(20 * np.log10(np.sqrt(np.mean(utterance.waveform.astype(np.float64) ** 2))))
        onsets = np.diff((utterance.voicing > 0.05).astype(int)) == 1
        syllables.append(onsets.sum() / utterance.duration)
    return {"f0_st": np.mean(f0), "db": np.mean(rms), "rate": np.mean(syllables)}


def test_voice_follows_the_literature_directions():
    """Anger and happiness raise F0 and level; sadness lowers F0, level and rate; fear raises F0
    and rate; disgust is slower than neutral (`voice.PROSODY`)."""
    stats = {e: _voice_stats(e) for e in ("neutral", "happiness", "anger", "sadness", "fear", "disgust")}
    neutral = stats["neutral"]
    for emotion in ("happiness", "anger"):
        assert stats[emotion]["f0_st"] > neutral["f0_st"] + 1.5
        assert stats[emotion]["db"] > neutral["db"] + 2
    assert stats["sadness"]["f0_st"] < neutral["f0_st"] - 1
    assert stats["sadness"]["db"] < neutral["db"] - 3
    assert stats["sadness"]["rate"] < 0.85 * neutral["rate"]
    assert stats["fear"]["f0_st"] > neutral["f0_st"] + 2 and stats["fear"]["rate"] > neutral["rate"]
    assert stats["disgust"]["rate"] < neutral["rate"]
    assert stats["anger"]["db"] > stats["happiness"]["db"]


def test_voice_is_speech_like_not_tones():
    """Harmonics at F0 with a falling envelope, formant-shaped, syllable-rate amplitude
    modulation, noise in the consonants, jitter."""
    speaker, utterance = next(_utterances("neutral", speakers=1, seconds=4.0))
    x = utterance.waveform.astype(np.float64)
    f0, voiced, _ = f0_track(x, 16000)
    assert voiced.mean() > 0.3
    assert abs(12 * np.log2(np.median(f0[voiced]) / np.nanmedian(utterance.f0))) < 1.0
    # Many harmonics in a voiced frame, not one tone.
    centre = int(np.flatnonzero(voiced)[voiced.sum() // 2]) * 160
    frame = x[centre : centre + 1024] * np.hanning(1024)
    spectrum = np.abs(np.fft.rfft(frame))
    peaks = (spectrum[1:-1] > spectrum[:-2]) & (spectrum[1:-1] > spectrum[2:]) & (spectrum[1:-1] > spectrum.max() * 0.01)
    assert peaks.sum() >= 8
    # Syllable- and phrase-rate envelope: the level is modulated at 0.5-8 Hz, far more than at
    # 10-50 Hz.
    level = np.sqrt(np.convolve(x**2, np.ones(160) / 160, mode="same")[::160])
    modulation = np.abs(np.fft.rfft(level - level.mean())) ** 2
    rates = np.fft.rfftfreq(level.size, 0.01)
    assert 0.5 <= rates[1:][modulation[1:].argmax()] <= 8.0
    slow = modulation[(rates >= 2) & (rates <= 8)].mean()
    assert slow > 3 * modulation[(rates >= 10) & (rates <= 50)].mean()
    # Jitter: F0 is never perfectly steady.
    assert np.nanstd(np.diff(utterance.f0[~np.isnan(utterance.f0)])) > 0
    # Fricatives: some 10 ms frames have most of their energy above 3 kHz.
    frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::160]
    power = np.abs(np.fft.rfft(frames * np.hamming(400), 512)) ** 2
    high = power[:, 96:].sum(axis=1) / (power.sum(axis=1) + 1e-12)
    assert (high > 0.5).sum() >= 5


def test_expressions_change_the_face_where_the_table_says():
    rng = rng_for(3, "test-faces")
    identity = faces.sample_identities(rng, 1)
    ids = np.repeat(identity, len(emotions.CLASSES))
    pose = faces.centred_pose(rng, 1, size=96, shift=0.0, angle_degrees=0.0)
    pose = np.repeat(pose, len(emotions.CLASSES))
    actions = faces.expression_actions(np.eye(len(emotions.CLASSES), dtype=np.float32), ids)
    images = faces.render_faces(ids, actions, pose, height=96, width=96, background=np.full(8, 128.0))
    neutral = images[0]
    mouth, brows = (slice(60, 80), slice(30, 66)), (slice(22, 40), slice(20, 76))
    change = {
        e: (np.abs(images[i] - neutral)[mouth].mean(), np.abs(images[i] - neutral)[brows].mean())
        for i, e in enumerate(emotions.CLASSES)
    }
    for e in ("happiness", "surprise", "sadness", "disgust", "fear", "contempt"):
        assert change[e][0] > 1.0, (e, change[e])
    for e in ("surprise", "sadness", "anger", "fear"):
        assert change[e][1] > 1.0, (e, change[e])
    # Every expression differs from every other one.
    flat = images.reshape(8, -1)
    distances = np.abs(flat[:, None] - flat[None]).mean(axis=2)
    assert distances[~np.eye(8, dtype=bool)].min() > 0.5


def test_trajectories_are_skewed_like_figure_4_and_mismatch_at_the_set_rate():
    time_share = np.zeros(len(emotions.CLASSES))
    episodes = mismatched = 0
    for i in range(300):
        bias = trajectories.sample_bias(rng_for(11, "bias", i), (0.25, 0.55))
        trajectory = trajectories.sample_trajectory(rng_for(11, "traj", i), 8.0, bias, voice_face_mismatch=0.2)
        time_share += trajectory.weights(np.arange(0, 8.0, 0.04), "face").sum(axis=0)
        episodes += len(trajectory.episodes)
        mismatched += sum(e.mismatch for e in trajectory.episodes)
    share = dict(zip(emotions.CLASSES, time_share / time_share.sum()))
    assert share["neutral"] > 0.6
    assert share["happiness"] > share["surprise"] > max(share["disgust"], share["fear"], share["contempt"])
    assert min(share["sadness"], share["anger"]) > max(share["disgust"], share["fear"], share["contempt"])
    assert abs(mismatched / episodes - 0.2) < 0.04


def test_annotator_votes_blur_related_emotions():
    crowd = annotators.sample_annotators(rng_for(0, "crowd"))
    mixture = np.zeros((400, 8))
    mixture[:200, emotions.class_index("fear")] = 1.0
    mixture[200:, emotions.class_index("neutral")] = 1.0
    votes = annotators.simulate_votes(rng_for(0, "votes"), mixture, np.array(["face"] * 400), crowd)
    fear_rows = votes[:200]
    assert fear_rows[:, emotions.class_index("fear")].mean() > 5
    assert fear_rows[:, emotions.class_index("surprise")].mean() > 1  # fear is read as surprise
    assert votes[200:, emotions.class_index("neutral")].mean() > 7


def test_display_spectrogram_matches_the_reference_front_end():
    from kerasemo.audio import vggvox_spectrogram_reference

    _, utterance = next(_utterances("anger", speakers=1, seconds=1.0))
    ours = display_spectrogram(utterance.waveform)
    reference = vggvox_spectrogram_reference(utterance.waveform, mirror=False, normalize=False)
    assert ours.shape == reference.shape
    # Identical but for the reference's DC-removal filter (a ~25 Hz high-pass): compare above it.
    relative = np.abs(ours[4:] - reference[4:]).sum() / reference[4:].sum()
    assert relative < 0.02


# ---------------------------------------------------------------------------------------------
# Presets and seeding.


def test_presets_validate_and_round_trip():
    for preset in PRESETS.values():
        assert SyntheticPreset.from_dict(json.loads(json.dumps(preset.to_dict()))) == preset
    with pytest.raises(ValueError, match="num_faces must be >= 100"):
        SyntheticPreset(name="x", num_faces=10)
    with pytest.raises(ValueError, match="track_seconds must be a \\(min, max\\) pair"):
        SyntheticPreset(name="x", track_seconds=(6.0, 3.0))
    with pytest.raises(ValueError, match="even"):
        SyntheticPreset(name="x", video_size=(127, 72))
    with pytest.raises(ValueError, match="Unknown SyntheticPreset key"):
        SyntheticPreset.from_dict({"name": "x", "faces": 3})
    with pytest.raises(ValueError, match="Unknown synthetic preset 'huge'"):
        get_preset("huge")


def test_seeding_is_stable_and_keyed():
    assert rng_for(0, "a", 1).integers(1 << 30) == rng_for(0, "a", 1).integers(1 << 30)
    assert rng_for(0, "a", 1).integers(1 << 30) != rng_for(0, "a", 2).integers(1 << 30)
    assert rng_for(0, "a").integers(1 << 30) != rng_for(1, "a").integers(1 << 30)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        rng_for(-1, "a")


# ---------------------------------------------------------------------------------------------
# The entry point: idempotence and errors.


def test_cli_skips_a_complete_corpus(corpus, capsys, caplog):
    before = (corpus / "corpus.json").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="kerasemo.data.synthetic.corpus"):
        assert make_synthetic.main(["--out", str(corpus), "--preset", "tiny", "--seed", "0"]) == 0
    assert "skipping" in capsys.readouterr().out and "skipping" in caplog.text
    assert (corpus / "corpus.json").stat().st_mtime_ns == before


def test_cli_refuses_another_seed_without_overwrite(corpus):
    with pytest.raises(SystemExit, match="already holds a synthetic corpus with preset 'tiny', seed 0.*--overwrite"):
        make_synthetic.main(["--out", str(corpus), "--preset", "tiny", "--seed", "5"])


def test_cli_refuses_an_unrelated_folder(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(SystemExit, match="not empty .* holds no synthetic corpus"):
        make_synthetic.main(["--out", str(tmp_path), "--preset", "tiny"])
    with pytest.raises(CorpusExistsError):
        generate_corpus(tmp_path, preset="tiny", overwrite=True)
    assert (tmp_path / "thesis.tex").read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_cli_help_and_argument_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        make_synthetic.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--preset {demo,tiny}" in text and "--overwrite" in text and "not a substitute" in text
    with pytest.raises(SystemExit):
        make_synthetic.main(["--preset", "huge"])
    with pytest.raises(SystemExit, match="--seed must be >= 0"):
        make_synthetic.main(["--seed", "-1", "--out", "unused"])


def test_summary_points_evaluation_at_ground_truth(corpus):
    """The README says what the folder is; the summary points evaluation at ground_truth/."""
    summary = read_summary(corpus)
    assert summary.path("ground_truth") == corpus.resolve() / GROUND_TRUTH_DIRNAME
    assert "EVALUATION ONLY" in (corpus / "README.txt").read_text()


def test_library_code_has_no_prints():
    package = pathlib.Path(faces.__file__).parent
    for path in list(package.glob("*.py")) + [pathlib.Path(make_synthetic.__file__)]:
        text = path.read_text()
        if path.name != "make_synthetic.py":
            assert not re.search(r"^\s*print\(", text, re.M), path
