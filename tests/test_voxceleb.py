"""VoxCeleb readers, frame sampling, face crops and the released-logits importer.

The fixture writers here make tiny corpora in the exact on-disk layouts (the README's "Data layouts it reads"),
irregular cases included; `tests/test_build_emovoxceleb.py` builds shards from them.
"""

import os

import numpy as np
import pytest
import scipy.io
import soundfile

from kerasemo.audio.signals import speech_like_signal
from kerasemo.data import emovox_logits, frames, voxceleb

FPS = 25

_TXT_HEADER = (
    "Identity  : \t{identity}\nReference : \t{video}\nOffset    : \t1\n"
    "FV Conf   : \t17.004\t(1)\nASD Conf  : \t5.179\n\nFRAME \tX \tY \tW \tH \n"
)


# --------------------------------------------------------------------------------------------
# Fixture writers.


def write_txt(path, identity, video, frame_numbers, box, normalised=False, rows=None):
    """A VoxCeleb face-track txt: header, then one `FRAME X Y W H` row per frame."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = _TXT_HEADER.format(identity=identity, video=video)
    if rows is None:
        rows = []
        for n in frame_numbers:
            if normalised:
                rows.append(f"{n:06d} \t{box[0]:.3f} \t{box[1]:.3f} \t{box[2]:.3f} \t{box[3]:.3f} ")
            else:
                rows.append(f"{n:06d} \t{box[0]} \t{box[1]} \t{box[2]} \t{box[3]} ")
    path.write_text(text + "\n".join(rows) + ("\n" if rows else ""))


def write_wav(path, seconds, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), speech_like_signal(seconds, seed=seed), 16000, subtype="PCM_16")


def _encode(container, stream, frame):
    """Muxes what `stream` encodes from `frame` (None flushes the encoder)."""
    for packet in stream.encode(frame):
        container.mux(packet)


def _add_speech(container, seconds, seed):
    """Adds a 16 kHz AAC stream to `container` and encodes a speech-like signal into it."""
    import av

    stream = container.add_stream("aac", rate=16000, layout="mono")
    signal = speech_like_signal(seconds, seed=seed)
    for start in range(0, len(signal), 1024):
        frame = av.AudioFrame.from_ndarray(signal[None, start : start + 1024], format="flt", layout="mono")
        frame.sample_rate = 16000
        _encode(container, stream, frame)
    return stream


def write_m4a(path, seconds, seed):
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        _encode(container, _add_speech(container, seconds, seed), None)


def frame_image(index, height, width, box_pixels=None):
    """Frame `index`: grey level 2 * (index % 100) + 20, a bright face square in the box."""
    image = np.full((height, width, 3), 2 * (index % 100) + 20, np.uint8)
    if box_pixels is not None:
        x, y, w, h = (int(round(v)) for v in box_pixels)
        image[y : y + h, x : x + w] = (230, 120 + index % 100, 40)
    return image


def write_mp4(
    path, num_frames, height, width, box_pixels=None, first_index=0, audio_seconds=None, seed=0
):
    """An H.264 video at 25 fps whose frame i looks like `frame_image(first_index + i)`."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        audio = None if audio_seconds is None else _add_speech(container, audio_seconds, seed)
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(
                frame_image(first_index + i, height, width, box_pixels), format="rgb24"
            )
            _encode(container, stream, frame)
        _encode(container, stream, None)
        if audio is not None:
            _encode(container, audio, None)


def write_jpegs(folder, numbers, size=24, name_digits=7):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        Image.fromarray(frame_image(n, size, size)).save(
            folder / f"{n:0{name_digits}d}.jpg", quality=95
        )


# VoxCeleb1 boxes are in pixels of a 360-high frame; the fixture videos are 90 high (scale 1/4).
VOX1_BOX = (200, 60, 120, 120)
VOX1_VIDEO = (90, 160)


def make_voxceleb1(root, *, usable=((1, 2), (2, 2), (3, 1), (4, 1)), irregular=True, seconds=1.6):
    """A VoxCeleb1 tree: identity number -> tracks with txt + wav + per-track mp4.

    Returns the expected usable track ids. Irregular extras (when `irregular`): a track whose
    frames come from the authors' JPEGs (no video), one with no frame source at all, a txt with
    no rows, a wav with no txt, a malformed txt, a txt with no wav.
    """
    expected = []
    seed = 0
    frames_per_track = int(round(seconds * FPS))
    for identity_number, count in usable:
        identity = f"id1{identity_number:04d}"
        for t in range(1, count + 1):
            video = f"vid{identity_number}x{t}"
            first = 100 + 10 * t
            numbers = range(first, first + frames_per_track)
            write_txt(
                root / "txt" / identity / video / "00001.txt", identity, video, numbers, VOX1_BOX
            )
            write_wav(root / "wav" / identity / video / "00001.wav", seconds, seed)
            scale = VOX1_VIDEO[0] / 360
            write_mp4(
                root / "video" / identity / video / "00001.mp4",
                frames_per_track,
                *VOX1_VIDEO,
                box_pixels=[v * scale for v in VOX1_BOX],
                first_index=first,
            )
            expected.append(f"{identity}/{video}/00001")
            seed += 1
    if irregular:
        # JPEG frames instead of a video (the authors' extracted frames beside the wav).
        identity, video = "id10001", "jpegvid"
        write_txt(
            root / "txt" / identity / video / "00001.txt", identity, video, range(0, 40), VOX1_BOX
        )
        write_wav(root / "wav" / identity / video / "00001.wav", 1.6, 50)
        write_jpegs(root / "frames" / identity / "1.6" / video / "1", range(0, 40, 6))
        expected.append(f"{identity}/{video}/00001")
        # Neither video nor frames: kept, usable with --logits only.
        identity, video = "id10002", "novideo"
        write_txt(
            root / "txt" / identity / video / "00001.txt", identity, video, range(0, 40), VOX1_BOX
        )
        write_wav(root / "wav" / identity / video / "00001.wav", 1.6, 51)
        expected.append(f"{identity}/{video}/00001")
        # A track with no frames, a wav with no track, a malformed txt, a txt with no wav.
        write_txt(
            root / "txt" / "id10002" / "empty" / "00001.txt", "id10002", "empty", [], VOX1_BOX
        )
        write_wav(root / "wav" / "id10002" / "empty" / "00001.wav", 1.0, 52)
        write_wav(root / "wav" / "id10003" / "orphan" / "00001.wav", 1.0, 53)
        write_txt(
            root / "txt" / "id10003" / "broken" / "00001.txt",
            "id10003",
            "broken",
            [],
            VOX1_BOX,
            rows=["000001 \t1 \t2 \t3 \t4", "000002 \tx \t2 \t3"],
        )
        write_wav(root / "wav" / "id10003" / "broken" / "00001.wav", 1.0, 54)
        write_txt(
            root / "txt" / "id10004" / "nowav" / "00001.txt", "id10004", "nowav", range(5), VOX1_BOX
        )
    return sorted(expected)


VOX2_BOX = (0.25, 0.2, 0.3, 0.5)
VOX2_VIDEO = (72, 128)


def make_voxceleb2(root, *, identities=4, seconds=1.6, irregular=True):
    """A VoxCeleb2 tree under dev/: normalised txt + aac/*.m4a + mp4/*.mp4 (a clip without m4a
    uses the mp4's own audio). Returns the expected usable track ids."""
    base = root / "dev"
    expected = []
    frames_per_track = int(round(seconds * FPS))
    height, width = VOX2_VIDEO
    pixels = (VOX2_BOX[0] * width, VOX2_BOX[1] * height, VOX2_BOX[2] * width, VOX2_BOX[3] * height)
    for i in range(identities):
        identity, video = f"id0{i:04d}", f"v2vid{i}"
        write_txt(
            base / "txt" / identity / video / "00001.txt",
            identity,
            video,
            range(30, 30 + frames_per_track),
            VOX2_BOX,
            normalised=True,
        )
        audio_inside = i == 0  # the first clip has its audio only inside the mp4
        if not audio_inside:
            write_m4a(base / "aac" / identity / video / "00001.m4a", seconds, seed=i)
        write_mp4(
            base / "mp4" / identity / video / "00001.mp4",
            frames_per_track,
            height,
            width,
            box_pixels=pixels,
            audio_seconds=seconds if audio_inside else None,
            seed=i,
        )
        expected.append(f"{identity}/{video}/00001")
    if irregular:
        write_m4a(base / "aac" / "id09999" / "orphan" / "00001.m4a", 1.0, seed=9)  # no txt
        # Pixel boxes in a VoxCeleb2 tree.
        write_txt(
            base / "txt" / "id00000" / "pixels" / "00001.txt",
            "id00000",
            "pixels",
            range(10),
            VOX1_BOX,
        )
        write_m4a(base / "aac" / "id00000" / "pixels" / "00001.m4a", 1.0, seed=10)
    return sorted(expected)


def make_frames_layout(root, *, identities=4, tracks=2, seconds=1.6, irregular=True):
    """The authors' layout: frames/<identity>/1.6/<video>/<track>/<FRAME>.jpg + wav/."""
    expected = []
    seed = 100
    count = int(round(seconds * FPS))
    for i in range(identities):
        identity = f"Celeb_{i}"
        for t in range(1, tracks + 1):
            video = f"fv{i}"
            write_jpegs(
                root / "frames" / identity / "1.6" / video / str(t), range(200, 200 + count, 6)
            )
            write_wav(root / "wav" / identity / video / f"{t:05d}.wav", seconds, seed)
            expected.append(f"{identity}/{video}/{t:05d}")
            seed += 1
    if irregular:
        (root / "frames" / "Celeb_0" / "1.6" / "fv0" / "9").mkdir(parents=True)  # no JPEGs
        write_wav(root / "wav" / "Celeb_0" / "fv0" / "00009.wav", 1.0, 7)
        write_wav(root / "wav" / "Celeb_1" / "fv1" / "00007.wav", 1.0, 8)  # no frames folder
        write_jpegs(root / "frames" / "Celeb_2" / "1.6" / "fv2" / "5", [0, 6])  # no wav
    return sorted(expected)


# --------------------------------------------------------------------------------------------
# Frame sampling, by hand against the authors' time2idx.


def test_frame_index_for_time_matches_hand_worked_values():
    # floor(max(25 t - 1, 0) / 6) + 1
    cases = {0.0: 1, 0.04: 1, 0.27: 1, 0.28: 2, 0.51: 2, 0.52: 3, 1.0: 5, 4.024: 17, 19.96: 84}
    for t, k in cases.items():
        assert frames.frame_index_for_time(t) == k, t
    np.testing.assert_array_equal(frames.frame_index_for_time(list(cases)), list(cases.values()))


def test_labelled_frames_every_sixth_from_the_first():
    numbers = frames.labelled_frame_numbers(100, 174)
    assert numbers.tolist() == list(range(100, 175, 6))  # 100, 106, ..., 172
    assert len(numbers) == frames.num_labelled_frames(75) == 13
    times = frames.labelled_frame_times(13)
    np.testing.assert_allclose(times, np.arange(13) * 0.24)
    # The stored time of frame k is one video frame before the time the authors' formula maps
    # to it: frame_index_for_time(t_k + 1/25) == k, and every t in [t_k + 1/25, t_k + 7/25).
    ks = np.arange(1, 14)
    np.testing.assert_array_equal(frames.frame_index_for_time(times + 1 / 25), ks)
    np.testing.assert_array_equal(frames.frame_index_for_time(times + 7 / 25 - 1e-4), ks)


def test_track_rows_sampled_with_nearest_box_for_gaps(tmp_path):
    path = tmp_path / "t.txt"
    rows = [f"{n:06d} \t{n} \t0 \t10 \t10" for n in [10, 11, 12, 13, 14, 15, 20, 21, 22, 23]]
    write_txt(path, "id1", "v", [], None, rows=rows)
    parsed = voxceleb.read_track_txt(path)
    assert parsed.header["Identity"] == "id1" and parsed.header["Reference"] == "v"
    numbers, boxes = voxceleb.labelled_rows(parsed)
    assert numbers.tolist() == [10, 16, 22]
    assert boxes[:, 0].tolist() == [10, 15, 22]  # frame 16 has no row: nearest is 15


def test_malformed_txt_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    write_txt(
        path, "id1", "v", [], None, rows=["000001 \t1 \t2 \t3 \t4", "000002 \t1 \toops \t3 \t4"]
    )
    with pytest.raises(voxceleb.TrackFileError, match=r"bad.txt' line 9"):
        voxceleb.read_track_txt(path)
    (tmp_path / "nohead.txt").write_text("hello\n")
    with pytest.raises(voxceleb.TrackFileError, match="no 'FRAME X Y W H'"):
        voxceleb.read_track_txt(tmp_path / "nohead.txt")


# --------------------------------------------------------------------------------------------
# Face crops.


def test_crop_with_margin_and_borders():
    image = np.arange(100 * 200 * 3, dtype=np.int64).reshape(100, 200, 3).astype(np.uint8)
    crop = frames.crop_face(image, (50, 20, 40, 30), units="pixels")
    # Square of side 40 centred on (70, 35): columns 50..89, rows 15..54.
    np.testing.assert_array_equal(crop, image[15:55, 50:90])
    wide = frames.crop_face(image, (50, 20, 40, 40), units="pixels", margin=0.25)
    np.testing.assert_array_equal(wide, image[10:70, 40:100])  # side 40 * 1.5 = 60
    corner = frames.crop_face(image, (-10, -10, 30, 30), units="pixels")
    assert corner.shape == (30, 30, 3)
    assert not corner[:10].any() and not corner[:, :10].any()  # outside: zeros
    np.testing.assert_array_equal(corner[10:, 10:], image[0:20, 0:20])
    clamped = frames.crop_face(image, (-10, -10, 30, 30), units="pixels", border="clamp")
    np.testing.assert_array_equal(clamped, image[0:30, 0:30])
    huge = frames.crop_face(image, (0, 0, 300, 300), units="pixels", border="clamp")
    assert huge.shape == (100, 100, 3)


def test_box_units_scale_to_the_decoded_frame():
    # VoxCeleb1: pixels of a 360-high frame; the decoded frame is 90 high -> 1/4.
    assert frames.box_to_pixels((200, 60, 120, 120), "pixels360", 160, 90) == (50, 15, 30, 30)
    assert frames.box_to_pixels((0.25, 0.2, 0.3, 0.5), "normalised", 128, 72) == pytest.approx(
        (32, 14.4, 38.4, 36)
    )
    with pytest.raises(ValueError, match="Unknown box units"):
        frames.box_to_pixels((0, 0, 1, 1), "inches", 10, 10)
    with pytest.raises(ValueError, match="positive width"):
        frames.crop_face(np.zeros((10, 10, 3), np.uint8), (1, 1, 0, 5))


def test_center_crop_fraction():
    image = np.zeros((160, 100, 3), np.uint8)
    assert frames.center_crop(image, 1 / 1.6).shape == (100, 62, 3)
    assert frames.center_crop(image, 1.0) is image


def test_read_video_frames_by_index(tmp_path):
    path = tmp_path / "v.mp4"
    write_mp4(path, 40, 36, 64, first_index=0)
    got = frames.read_video_frames(path, [0, 6, 12, 39, 45])
    assert sorted(got) == [0, 6, 12, 39]  # 45 is past the end
    for index, image in got.items():
        assert image.shape == (36, 64, 3)
        assert abs(float(image.mean()) - (2 * index + 20)) < 2.0, index
    with pytest.raises(FileNotFoundError):
        frames.read_video_frames(tmp_path / "missing.mp4", [0])
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(frames.FrameReadError):
        frames.read_video_frames(tmp_path / "junk.mp4", [0])


# --------------------------------------------------------------------------------------------
# Scans of each layout, irregular cases counted.


def test_scan_voxceleb1(tmp_path):
    expected = make_voxceleb1(tmp_path / "vox1", usable=((1, 1), (2, 1)))
    tracks, report = voxceleb.scan(tmp_path / "vox1", "voxceleb1")
    assert [t.track_id for t in tracks] == expected
    assert report.num_tracks == len(expected)
    assert report.skipped == {
        voxceleb.SKIP_NO_FRAMES: 1,
        voxceleb.SKIP_AUDIO_WITHOUT_TRACK: 1,
        voxceleb.SKIP_UNREADABLE: 1,
        voxceleb.SKIP_TRACK_WITHOUT_AUDIO: 1,
    }
    assert report.notes == {voxceleb.NOTE_NO_FRAME_SOURCE: 1}
    assert "orphan" in report.examples[voxceleb.SKIP_AUDIO_WITHOUT_TRACK][0]
    by_id = {t.track_id: t for t in tracks}
    video_track = by_id["id10001/vid1x1/00001"]
    assert video_track.frame_source == "video"
    assert video_track.frame_numbers.tolist() == list(range(110, 150, 6))
    assert video_track.video_first_frame == 110 and video_track.box_units == "pixels360"
    np.testing.assert_array_equal(video_track.boxes, np.tile(VOX1_BOX, (7, 1)))
    assert video_track.duration_hint == pytest.approx(1.6)
    jpeg_track = by_id["id10001/jpegvid/00001"]
    assert jpeg_track.frame_source == "jpeg"
    assert jpeg_track.frame_numbers.tolist() == list(range(0, 40, 6))
    assert [os.path.basename(p) for p in jpeg_track.frame_paths][:2] == [
        "0000000.jpg",
        "0000006.jpg",
    ]
    assert by_id["id10002/novideo/00001"].frame_source == "none"
    text = report.summary()
    assert "track with no frames" in text and "audio with no track" in text
    assert report.to_dict()["num_skipped"] == 4


def test_scan_finds_the_layout_in_a_voxceleb_subfolder(tmp_path):
    make_voxceleb1(tmp_path / "corpus" / "voxceleb", usable=((1, 1),), irregular=False)
    tracks, report = voxceleb.scan(tmp_path / "corpus", "voxceleb1")
    assert len(tracks) == 1 and report.num_skipped == 0


def test_scan_voxceleb2(tmp_path):
    expected = make_voxceleb2(tmp_path / "vox2", identities=3)
    tracks, report = voxceleb.scan(tmp_path / "vox2", "voxceleb2")
    assert [t.track_id for t in tracks] == expected
    assert report.skipped == {voxceleb.SKIP_AUDIO_WITHOUT_TRACK: 1, voxceleb.SKIP_WRONG_UNITS: 1}
    first = tracks[0]
    assert first.audio_path.endswith(".mp4") and first.video_path == first.audio_path
    assert tracks[1].audio_path.endswith(".m4a")
    assert first.box_units == "normalised" and first.video_first_frame == 30
    np.testing.assert_allclose(first.boxes[0], VOX2_BOX, atol=1e-6)


def test_scan_frames_layout(tmp_path):
    expected = make_frames_layout(tmp_path / "fr", identities=3)
    tracks, report = voxceleb.scan(tmp_path / "fr", "frames")
    assert [t.track_id for t in tracks] == expected
    assert report.skipped == {
        voxceleb.SKIP_NO_FRAMES: 1,  # 00009: a frames folder with no JPEG (its wav is not
        voxceleb.SKIP_AUDIO_WITHOUT_TRACK: 1,  # counted again); 00007: a wav with no folder
        voxceleb.SKIP_TRACK_WITHOUT_AUDIO: 1,
    }
    track = tracks[0]
    assert track.frame_source == "jpeg" and track.track == "00001"
    assert track.frame_numbers.tolist() == list(range(200, 240, 6))


def test_scan_errors_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        voxceleb.scan(tmp_path / "nope", "voxceleb1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No voxceleb2 layout found.*aac"):
        voxceleb.scan(tmp_path / "empty", "voxceleb2")
    with pytest.raises(ValueError, match="Unknown layout"):
        voxceleb.scan(tmp_path, "voxceleb3")


def test_pixel_layout_boxes_detected_as_normalised(tmp_path):
    root = tmp_path / "v"
    write_txt(
        root / "txt" / "id1" / "v" / "00001.txt", "id1", "v", range(10), VOX2_BOX, normalised=True
    )
    write_wav(root / "wav" / "id1" / "v" / "00001.wav", 0.5, 0)
    tracks, report = voxceleb.scan(root, "voxceleb1")
    assert tracks == [] and report.skipped == {voxceleb.SKIP_WRONG_UNITS: 1}
    assert "use --layout voxceleb2" in report.examples[voxceleb.SKIP_WRONG_UNITS][0]


# --------------------------------------------------------------------------------------------
# The authors' released logits file.


def _authors_mat(path, names, logits, sets=None, nest=False):
    """A .mat in the authors' structure: wavLogits (1 x N cell) + images struct."""
    cell = np.empty((1, len(logits)), dtype=object)
    for i, x in enumerate(logits):
        cell[0, i] = np.asarray(x, np.float32)
    name_cell = np.empty((1, len(names)), dtype=object)
    name_cell[0, :] = names
    images = {
        "name": name_cell,
        "track": np.asarray([[int(n.split("/")[-1][:5]) for n in names]], float),
    }
    if sets is not None:
        images["set"] = np.asarray([sets], float)
    data = {"wavLogits": cell, "images": images}
    scipy.io.savemat(str(path), {"imdb": data} if nest else data)


def test_load_authors_logits_file_and_match_by_name(tmp_path, rng):
    logits = [rng.standard_normal((n, 8)).astype(np.float32) for n in (5, 1, 0, 3)]
    names = [
        "A.J._Buckley/vidA/00001.wav",  # celebrity-name folder, matches id10001/vidA/00001
        "id10002/vidB/00002.wav",
        "id10003/vidC/00001.wav",
        "Nobody/vidZ/00001.wav",  # no such track
    ]
    path = tmp_path / "senet50-ferplus-logits.mat"
    _authors_mat(path, names, logits, sets=[1, 3, 2, 1])
    loaded = emovox_logits.load_emovox_logits(path)
    assert len(loaded) == 4 and loaded.names == names
    np.testing.assert_array_equal(loaded.logits[0], logits[0])
    assert loaded.logits[1].shape == (1, 8) and loaded.logits[2].shape == (0, 8)
    assert [loaded.split(i) for i in range(4)] == ["train", "heard_val", "unheard_val", "train"]

    class T:
        def __init__(self, identity, video, track):
            self.identity, self.video, self.track = identity, video, track

    tracks = [
        T("id10001", "vidA", "00001"),
        T("id10002", "vidB", "00002"),
        T("id10003", "vidC", "00001"),
        T("id10004", "vidD", "00001"),
    ]
    match = loaded.match(tracks)
    assert match.index == {
        "id10001/vidA/00001": 0,
        "id10002/vidB/00002": 1,
        "id10003/vidC/00001": 2,
    }
    assert match.by_video_track == 1
    assert match.unmatched_tracks == ["id10004/vidD/00001"]
    assert match.unused_entries == ["Nobody/vidZ/00001.wav"]


def test_logits_file_nested_single_entry_and_errors(tmp_path):
    path = tmp_path / "one.mat"
    _authors_mat(path, ["id1/v/00001.wav"], [np.ones((2, 8))], nest=True)
    loaded = emovox_logits.load_emovox_logits(path)
    assert loaded.names == ["id1/v/00001.wav"] and loaded.logits[0].shape == (2, 8)
    scipy.io.savemat(str(tmp_path / "other.mat"), {"x": np.ones(3)})
    with pytest.raises(emovox_logits.LogitsFileError, match="no 'wavLogits'.*found: x"):
        emovox_logits.load_emovox_logits(tmp_path / "other.mat")
    (tmp_path / "junk.mat").write_bytes(b"junk")
    with pytest.raises(emovox_logits.LogitsFileError, match="Could not read"):
        emovox_logits.load_emovox_logits(tmp_path / "junk.mat")
    with pytest.raises(FileNotFoundError):
        emovox_logits.load_emovox_logits(tmp_path / "none.mat")


def test_export_round_trips_through_the_importer(tmp_path, rng):
    logits = [rng.standard_normal((n, 8)).astype(np.float32) for n in (4, 1, 2)]
    times = [np.arange(len(x)) * 0.24 for x in logits]
    names = ["id1/v/00001.wav", "id2/w/00003.m4a", "id3/x/00002.wav"]
    path = tmp_path / "frame_logits.mat"
    emovox_logits.save_emovox_logits(
        path,
        names=names,
        logits=logits,
        frame_times=times,
        splits=["train", "heard_val", "unheard_val"],
        classes=["a"] * 8,
    )
    loaded = emovox_logits.load_emovox_logits(path)
    assert loaded.names == names
    for a, b in zip(loaded.logits, logits, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(loaded.frame_times, times, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert [loaded.split(i) for i in range(3)] == ["train", "heard_val", "unheard_val"]
    assert [loaded.key(i) for i in range(3)] == [
        ("id1", "v", "00001"),
        ("id2", "w", "00003"),
        ("id3", "x", "00002"),
    ]


def test_whole_source_video_with_absolute_frame_numbers(tmp_path):
    # VoxCeleb1 with the whole YouTube video: video/<identity>/<video>.mp4, frame n = FRAME n.
    root = tmp_path / "vox1"
    write_txt(root / "txt" / "id1" / "yt" / "00002.txt", "id1", "yt", range(70, 95), VOX1_BOX)
    write_wav(root / "wav" / "id1" / "yt" / "00002.wav", 1.0, 0)
    write_mp4(root / "video" / "id1" / "yt.mp4", 100, 36, 64)
    (track,), report = voxceleb.scan(root, "voxceleb1")
    assert report.num_skipped == 0
    assert track.frame_source == "video" and track.video_first_frame == 0
    assert track.video_path.endswith("yt.mp4")
    assert track.frame_numbers.tolist() == [70, 76, 82, 88, 94]
    # Frame 70 is 2.8 s in: the reader seeks to a keyframe before it instead of decoding all.
    got = frames.read_video_frames(track.video_path, track.frame_numbers - track.video_first_frame)
    assert sorted(got) == [70, 76, 82, 88, 94]
    for index, image in got.items():
        assert abs(float(image.mean()) - (2 * index + 20)) < 2.0, index
