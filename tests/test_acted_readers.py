"""Readers of the acted sets (RML, eNTERFACE'05, CREMA-D, RAVDESS, CSV) on fixtures in their real layouts."""

import pathlib

import av
import numpy as np
import pytest
import soundfile

from kerasemo.data import acted

# --------------------------------------------------------------------------------------------
# Fixture writers (also used by test_probe.py).


def write_wav(path, seconds=1.0, rate=16000, tone=220.0, seed=0):
    """A short PCM wav: a tone plus a little seeded noise (distinct bytes per seed)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(scale=0.01, size=t.shape)
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * tone * t) + noise).astype("float32"), rate, subtype="PCM_16")
    return path


def write_av(path, seconds=1.0, rate=22050, container="avi", frames=6, size=32, tone=220.0, shade=0, audio=True):
    """A tiny audio-video file: MPEG-4 video of flat frames, PCM (avi) or AAC (mp4) mono audio.

    RML's AVIs carry 22,050 Hz PCM; `rate` defaults to that.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=container) as output:
        video = output.add_stream("mpeg4", rate=25)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        sound = None
        if audio:
            sound = output.add_stream("pcm_s16le" if container == "avi" else "aac", rate=rate)
            sound.layout = "mono"
        for index in range(frames):
            image = np.full((size, size, 3), (shade + 30 * index) % 255, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                output.mux(packet)
        for packet in video.encode():
            output.mux(packet)
        if sound is not None:
            samples = int(seconds * rate)
            wave = (0.3 * np.sin(2 * np.pi * tone * np.arange(samples) / rate) * 32767).astype(np.int16)
            chunk, pts = 1024, 0
            for start in range(0, samples, chunk):
                piece = wave[start : start + chunk]
                frame = av.AudioFrame.from_ndarray(piece[None, :], format="s16", layout="mono")
                frame.sample_rate, frame.pts = rate, pts
                pts += len(piece)
                for packet in sound.encode(frame):
                    output.mux(packet)
            for packet in sound.encode():
                output.mux(packet)
    return path


def _read(dataset, root, **options):
    """`acted.read_dataset`'s table, its rows by relpath, and its report."""
    clips, report = acted.read_dataset(dataset, root, **options)
    return clips, {row.relpath: row for row in clips.itertuples()}, report


# --------------------------------------------------------------------------------------------
# RML.


@pytest.fixture
def rml_root(tmp_path):
    root = tmp_path / "RML"
    write_av(root / "s1" / "an1.avi", tone=200)
    write_av(root / "s1" / "ha2.avi", tone=210)
    write_av(root / "s2" / "sa" / "sa1.avi", tone=220)
    write_av(root / "s7" / "English" / "su" / "su 3.avi", tone=230)  # space in the name
    write_av(root / "s7" / "Mandarin" / "su" / "su 3.avi", tone=240)  # same name, other language
    write_av(root / "s4" / "Fear" / "clip1.avi", tone=250)  # code only in the folder
    write_av(root / "s5" / "take_di_2.avi", tone=260)  # code as a token
    write_av(root / "s1" / "ne1.avi", tone=270)  # neutral: not an RML class
    write_av(root / "s1" / "sample.avi", tone=280)  # "sa" prefix of a word: not a code
    (root / "s1" / "readme.txt").write_text("notes")
    (root / "s2" / "di9.avi").write_bytes(b"")  # empty file
    (root / "s3").mkdir()
    (root / "s3" / "fe1.avi").write_bytes(b"not a video at all" * 10)
    (root / "__MACOSX" / "s1").mkdir(parents=True)
    (root / "__MACOSX" / "s1" / "._an1.avi").write_bytes(b"meta")
    write_av(root / "loose_an1.avi")  # directly in the root: no subject folder
    # A byte-identical copy of s1/an1.avi.
    (root / "s6").mkdir()
    (root / "s6" / "an1.avi").write_bytes((root / "s1" / "an1.avi").read_bytes())
    return root


def test_rml_finds_codes_at_any_depth_and_reports_every_skip(rml_root):
    clips, rows, report = _read("rml", rml_root)
    assert set(rows) == {
        "s1/an1.avi",
        "s1/ha2.avi",
        "s2/sa/sa1.avi",
        "s7/English/su/su 3.avi",
        "s7/Mandarin/su/su 3.avi",
        "s4/Fear/clip1.avi",
        "s5/take_di_2.avi",
    }
    assert rows["s1/an1.avi"].label == "anger" and rows["s1/an1.avi"].speaker == "s1"
    assert rows["s7/English/su/su 3.avi"].label == "surprise"
    assert rows["s7/English/su/su 3.avi"].speaker == "s7"
    assert rows["s4/Fear/clip1.avi"].label == "fear"
    assert rows["s5/take_di_2.avi"].label == "disgust"
    assert all(clips.has_video) and clips.video_path.notna().all()
    # RML's 22,050 Hz PCM inside AVI: the duration comes from the headers.
    assert np.allclose(clips.duration, 1.0, atol=0.01)
    assert list(clips.columns) == list(acted.COLUMNS)

    counts = report.counts
    assert counts[acted.UNKNOWN_CODE] == 1 and "ne" in report.examples[acted.UNKNOWN_CODE][0]
    assert counts[acted.NO_CODE] == 1  # sample.avi
    assert counts[acted.NOT_MEDIA] == 1
    assert counts[acted.MACOS_METADATA] == 1
    assert counts[acted.NO_SPEAKER] == 1
    assert counts[acted.DUPLICATE] == 1 and "s6/an1.avi" in report.examples[acted.DUPLICATE][0]
    assert counts[acted.UNREADABLE] + counts.get(acted.ZERO_LENGTH, 0) == 2  # empty + garbage
    assert report.total == 8
    assert "skipped 8" in report.summary()
    assert "| unknown emotion code | 1 |" in report.to_markdown()


def test_rml_decoded_audio_is_16k(rml_root):
    from kerasemo.audio import load_audio

    clips, _ = acted.read_dataset("rml", rml_root)
    waveform = load_audio(clips.path[0])
    assert waveform.shape == (16000,)


def test_unchecked_read_defers_decoding(rml_root):
    clips, report = acted.read_dataset("rml", rml_root, check_audio=False)
    assert len(clips) == 9  # the empty and the garbage AVI are listed
    assert clips.duration.isna().all()
    assert acted.UNREADABLE not in report.counts


# --------------------------------------------------------------------------------------------
# eNTERFACE'05.


def test_enterface_spaces_uneven_depth_and_codes(tmp_path):
    root = tmp_path / "enterface database"
    write_av(root / "subject 1" / "anger" / "sentence 1" / "s1_an_1.avi", tone=200)
    write_av(root / "subject 1" / "happiness" / "sentence 2" / "s1_ha_2.avi", tone=210)
    write_av(root / "subject 6" / "fear" / "s6_fe_1.avi", tone=220)  # no "sentence K" level
    write_av(root / "subject 12" / "surprise" / "sentence 5" / "s_12_su_5.avi", tone=230)
    write_av(root / "subject 2" / "disgust" / "sentence 1" / "s2_xx_1.avi", tone=240)  # folder wins
    write_av(root / "subject 3" / "s3_ne_1.avi", tone=250)  # unknown code, no emotion folder
    write_av(root / "subject 3" / "sadness" / "take.avi", tone=260)  # name not sXX_yy_Z, folder ok
    write_av(root / "misc" / "s9_sa_1.avi", tone=270)  # speaker from the file name
    write_av(root / "misc" / "clip.avi", tone=280)  # nothing to go on
    clips, rows, report = _read("enterface", root)
    assert rows["subject 1/anger/sentence 1/s1_an_1.avi"].label == "anger"
    assert rows["subject 1/anger/sentence 1/s1_an_1.avi"].speaker == "s1"
    assert rows["subject 6/fear/s6_fe_1.avi"].label == "fear"
    assert rows["subject 6/fear/s6_fe_1.avi"].speaker == "s6"
    assert rows["subject 12/surprise/sentence 5/s_12_su_5.avi"].speaker == "s12"
    assert rows["subject 2/disgust/sentence 1/s2_xx_1.avi"].label == "disgust"
    assert rows["subject 3/sadness/take.avi"].label == "sadness"
    assert rows["misc/s9_sa_1.avi"].speaker == "s9"
    assert len(clips) == 7
    assert report.counts == {acted.UNKNOWN_CODE: 1, acted.BAD_NAME: 1}
    assert clips.has_video.all()


# --------------------------------------------------------------------------------------------
# CREMA-D.


def test_cremad_names_actors_and_known_quirks(tmp_path):
    root = tmp_path / "CREMA-D"
    audio = root / "AudioWAV"
    for seed, name in enumerate(
        ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_DFA_NEU_XX", "1002_ITH_SAD_XX", "1091_TSI_FEA_XX", "1091_WSI_DIS_LO"]
    ):
        write_wav(audio / f"{name}.wav", seed=seed)
    write_wav(audio / "1003_DFA_CAL_XX.wav", seed=10)  # not a CREMA-D emotion
    (audio / "1076_MTI_SAD_XX.wav").write_bytes(b"")  # the real set's empty file
    write_wav(audio / "notes_about_it.wav", seed=11)
    (audio / "README.txt").write_text("x")
    (root / "VideoFlash").mkdir()
    (root / "VideoFlash" / "1001_DFA_ANG_XX.flv").write_bytes(b"x")  # outside AudioWAV: not read
    clips, report = acted.read_dataset("cremad", root)
    assert sorted(clips.label) == sorted(["anger", "happiness", "neutral", "sadness", "fear", "disgust"])
    assert set(clips.speaker) == {"1001", "1002", "1091"}
    assert clips.relpath[0] == "AudioWAV/1001_DFA_ANG_XX.wav"
    assert not clips.has_video.any()
    assert report.counts[acted.UNKNOWN_CODE] == 1
    assert report.counts[acted.BAD_NAME] == 1
    assert report.counts[acted.NOT_MEDIA] == 1
    assert report.counts.get(acted.UNREADABLE, 0) + report.counts.get(acted.ZERO_LENGTH, 0) == 1
    # AudioWAV itself works as the root too.
    same, _ = acted.read_dataset("cremad", audio)
    assert len(same) == len(clips)


# --------------------------------------------------------------------------------------------
# RAVDESS.


# The clips `ravdess_root` keeps under the default options (relpaths).
RAVDESS_ANGRY = "Actor_01/03-01-05-01-02-01-01.wav"  # audio-only, with an audio-visual copy
RAVDESS_NEUTRAL = "Actor_01/03-01-01-01-01-01-01.wav"
RAVDESS_HAPPY = "Actor_02/01-01-03-01-01-01-02.mp4"  # audio-visual only


@pytest.fixture
def ravdess_root(tmp_path):
    root = tmp_path / "RAVDESS"
    write_wav(root / "Actor_01" / "03-01-05-01-02-01-01.wav", seed=1)  # angry, audio-only
    write_av(root / "Actor_01" / "01-01-05-01-02-01-01.mp4", container="mp4", rate=48000)  # its AV copy
    write_av(root / "Actor_01" / "02-01-05-01-02-01-01.mp4", container="mp4", audio=False)  # video-only
    write_wav(root / "Actor_01" / "03-01-02-01-01-01-01.wav", seed=2)  # calm
    write_wav(root / "Actor_01" / "03-01-01-01-01-01-01.wav", seed=3)  # neutral
    write_av(root / "Actor_02" / "01-01-03-01-01-01-02.mp4", container="mp4", rate=48000, tone=300)  # AV only
    write_av(root / "Actor_02" / "02-01-04-01-01-01-02.mp4", container="mp4", audio=False)  # video-only alone
    write_wav(root / "Actor_02" / "03-02-03-01-01-01-02.wav", seed=4)  # song
    write_wav(root / "Actor_02" / "03-01-09-01-01-01-02.wav", seed=5)  # no emotion 09
    return root


def test_ravdess_merges_modalities_and_drops_calm(ravdess_root):
    _, rows, report = _read("ravdess", ravdess_root)
    assert set(rows) == {RAVDESS_ANGRY, RAVDESS_NEUTRAL, RAVDESS_HAPPY}
    angry = rows[RAVDESS_ANGRY]
    assert angry.label == "anger" and angry.speaker == "Actor_01"
    assert angry.has_video and angry.video_path.endswith("01-01-05-01-02-01-01.mp4")
    assert not rows[RAVDESS_NEUTRAL].has_video
    happy = rows[RAVDESS_HAPPY]
    assert happy.label == "happiness" and happy.has_video
    assert report.counts == {
        acted.DROPPED_CLASS: 1,
        acted.SONG: 1,
        acted.UNKNOWN_CODE: 1,
        acted.SAME_RECORDING: 1,
        acted.VIDEO_ONLY: 1,
    }


def test_ravdess_options(ravdess_root):
    _, labels, report = _read("ravdess", ravdess_root, ravdess_calm="neutral", include_song=True)
    assert labels["Actor_01/03-01-02-01-01-01-01.wav"].label == "neutral"
    assert labels["Actor_02/03-02-03-01-01-01-02.wav"].label == "happiness"
    assert acted.DROPPED_CLASS not in report.counts and acted.SONG not in report.counts
    with pytest.raises(ValueError, match="ravdess_calm"):
        acted.read_dataset("ravdess", ravdess_root, ravdess_calm="keep")


# --------------------------------------------------------------------------------------------
# CSV manifest.


def test_csv_manifest_relative_paths_and_speakers(tmp_path):
    write_wav(tmp_path / "audio" / "a.wav", seed=1)
    write_wav(tmp_path / "audio" / "b.wav", seed=2)
    elsewhere = write_wav(tmp_path / "other" / "c.wav", seed=3)
    manifest = tmp_path / "set" / "manifest.csv"
    manifest.parent.mkdir()
    manifest.write_text(
        "path,label,speaker\n"
        "../audio/a.wav,Anger,spk1\n"
        "../audio/b.wav,neutral,spk2\n"
        f"{elsewhere},contempt,\n"
        "../audio/missing.wav,fear,spk1\n"
    )
    clips, rows, report = _read("csv", manifest)
    assert list(clips.label) == ["anger", "neutral", "contempt"] or sorted(clips.label) == ["anger", "contempt", "neutral"]
    assert rows["../audio/a.wav"].speaker == "spk1"
    assert rows[str(elsewhere)].speaker is None
    assert report.counts == {acted.MISSING_FILE: 1}
    assert "row 5" in report.examples[acted.MISSING_FILE][0]


def test_csv_errors_name_the_row(tmp_path):
    write_wav(tmp_path / "a.wav")
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\na.wav,anger\na.wav,angry\n")
    with pytest.raises(ValueError, match=r"row 3 .*'angry'.*neutral, happiness"):
        acted.read_dataset("csv", bad)
    no_label = tmp_path / "nolabel.csv"
    no_label.write_text("file,emotion\na.wav,anger\n")
    with pytest.raises(ValueError, match="lacks column"):
        acted.read_dataset("csv", no_label)
    without_speaker = tmp_path / "plain.csv"
    without_speaker.write_text("path,label\na.wav,anger\n")
    clips, _ = acted.read_dataset("csv", without_speaker)
    assert clips.speaker.isna().all()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset 'iemocap'"):
        acted.read_dataset("iemocap", tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        acted.read_dataset("rml", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="manifest"):
        acted.read_dataset("csv", tmp_path)


def test_present_classes_follow_the_canonical_order(rml_root):
    clips, _ = acted.read_dataset("rml", rml_root, check_audio=False)
    assert acted.present_classes(clips) == ("happiness", "surprise", "sadness", "anger", "disgust", "fear")
