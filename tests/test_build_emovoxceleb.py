"""Building EmoVoxCeleb shards end to end on tiny fixture corpora with a stand-in teacher.

The stand-in teacher is a small Keras model (16 x 16 RGB -> 8 logits) saved as ``.keras``; the
real SE-ResNet teacher takes the same path through `kerasemo.models.teacher.load_teacher`.
"""

import json
import pathlib
import re

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from shard_fixtures import save_standin_teacher
from test_voxceleb import (
    _authors_mat,
    make_frames_layout,
    make_voxceleb1,
    make_voxceleb2,
)

from kerasemo.audio import load_audio, vggvox_spectrogram_reference
from kerasemo.config import load_config
from kerasemo.data import emovox_logits, emovoxceleb, frames, schema, splits, voxceleb
from kerasemo.experiments import build_emovoxceleb

# Shards small enough that train gets several files; teacher batches of 5 crops span tracks.
COMMON = ["--shard-mb", "0.2", "--batch-size", "5", "--no-progress", "--config", "demo"]
SHARD_NAME = re.compile(r"^(train|heard_val|unheard_val)-(\d{5})-of-(\d{5})\.tfrecord$")


@pytest.fixture(scope="module")
def teacher_path(tmp_path_factory):
    return save_standin_teacher(tmp_path_factory.mktemp("teacher") / "standin.keras")


@pytest.fixture(scope="module")
def vox1(tmp_path_factory):
    """VoxCeleb1 fixture: 6 identities, irregular cases, and one corrupt video."""
    root = tmp_path_factory.mktemp("vox1")
    expected = make_voxceleb1(root, usable=((1, 3), (2, 2), (3, 2), (4, 1), (5, 1), (6, 1)))
    (root / "video" / "id10006" / "vid6x1" / "00001.mp4").write_bytes(b"corrupt")
    written = [t for t in expected if t not in ("id10002/novideo/00001", "id10006/vid6x1/00001")]
    return root, written


def _build(root, out, *extra, layout="voxceleb1"):
    return build_emovoxceleb.main(
        ["--root", str(root), "--layout", layout, "--out", str(out), *COMMON, *extra]
    )


@pytest.fixture(scope="module")
def single_build(vox1, teacher_path, tmp_path_factory):
    root, _ = vox1
    out = tmp_path_factory.mktemp("single") / "emovox"
    assert _build(root, out, "--teacher", str(teacher_path)) == 0
    return out


def _read(out):
    """{track_id: parsed example (NumPy)} and {file name: [track ids]}."""
    examples, files = {}, {}
    for path in sorted(pathlib.Path(out).glob("*.tfrecord")):
        files[path.name] = []
        for record in tf.data.TFRecordDataset(str(path)):
            parsed = {k: v.numpy() for k, v in schema.parse_example(record).items()}
            track_id = parsed["track_id"].decode()
            examples[track_id] = parsed
            files[path.name].append(track_id)
    return examples, files


def _shard_bytes(out):
    return {p.name: p.read_bytes() for p in sorted(pathlib.Path(out).glob("*.tfrecord"))}


def test_voxceleb1_build_end_to_end(vox1, single_build, teacher_path):
    root, written = vox1
    out = single_build
    examples, files = _read(out)
    assert sorted(examples) == written

    # Shard names carry index and count; every example is in its split's files.
    plan = json.loads((out / "plan.json").read_text())
    corrupt = next(s["name"] for s in plan["shards"] if "id10006/vid6x1/00001" in s["track_ids"])
    by_split = {}
    for name, ids in files.items():
        split, index, count = SHARD_NAME.match(name).groups()
        by_split.setdefault(split, set()).add((int(index), int(count)))
        assert all(examples[t]["split"].decode() == split for t in ids)
        assert ids or name == corrupt, f"{name} is empty"  # a shard whose tracks all failed
    for split, entries in by_split.items():
        count = {c for _, c in entries}.pop()
        assert sorted(i for i, _ in entries) == list(range(count)), split
    assert len(by_split["train"]) >= 2
    assert not list(out.glob("*.tmp"))

    # Identity-disjoint splits.
    manifest = pd.read_csv(out / "manifest.csv", dtype={"track": str})
    splits.check_identity_disjoint(
        dict(zip(manifest.track_id, manifest.split, strict=True)),
        dict(zip(manifest.track_id, manifest.identity, strict=True)),
    )
    assert set(manifest.split) == {"train", "heard_val", "unheard_val"}

    # Logits and times per labelled frame; audio = the recipe's 257-bin magnitudes.
    teacher = __import__("keras").saving.load_model(teacher_path)
    for track_id, example in examples.items():
        assert example["audio_kind"] == b"spectrogram"
        count = 7  # 1.6 s = 40 frames -> frames 0, 6, ..., 36
        assert example["logits"].shape == (count, 8)
        np.testing.assert_allclose(example["frame_times"], np.arange(count) * 0.24, rtol=1e-6)
        identity, video, track = track_id.split("/")
        waveform = load_audio(root / "wav" / identity / video / f"{track}.wav")
        assert example["num_samples"] == len(waveform)
        reference = vggvox_spectrogram_reference(waveform, mirror=False, normalize=False).T
        assert example["spectrogram"].shape == reference.shape
        np.testing.assert_allclose(
            example["spectrogram"], reference, rtol=2**-10, atol=1e-5 * reference.max()
        )

    # The logits are the teacher's on the face crops of frames first, first + 6, ...
    from kerasemo.models.teacher_inference import predict_frame_logits

    tracks, _ = voxceleb.scan(root, "voxceleb1")
    track = next(t for t in tracks if t.track_id == "id10001/vid1x2/00001")
    indices = [int(n) - track.video_first_frame for n in track.frame_numbers]
    images = frames.read_video_frames(track.video_path, indices)
    crops = [
        frames.crop_face(images[i], b, units="pixels360")
        for i, b in zip(indices, track.boxes, strict=True)
    ]
    assert crops[0].shape == (30, 30, 3)  # 120 px of a 360-high frame in a 90-high video
    expected = predict_frame_logits(teacher, crops)
    np.testing.assert_allclose(examples[track.track_id]["logits"], expected, rtol=1e-5, atol=1e-5)
    jpeg = examples["id10001/jpegvid/00001"]["logits"]
    assert jpeg.shape == (7, 8)

    # Manifest (CSV and Parquet), frame-level export, figure, summary, report, config.
    assert list(manifest.track_id) == written
    assert {
        "logit_max_neutral",
        "logit_max_contempt",
        "dominant_emotion",
        "shard",
        "duration_s",
    } <= set(manifest.columns)
    row = manifest.set_index("track_id").loc[track.track_id]
    np.testing.assert_allclose(
        row[[f"logit_max_{c}" for c in ("neutral", "happiness")]].to_numpy(float),
        expected.max(0)[:2],
        rtol=1e-5,
        atol=1e-5,
    )
    assert row["shard"] in files and track.track_id in files[row["shard"]]
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # Parquet needs pyarrow: without it the build writes CSV only
        assert not (out / "manifest.parquet").exists()
    else:
        parquet = pd.read_parquet(out / "manifest.parquet")
        assert list(parquet.track_id) == written
    with np.load(out / "frame_logits.npz") as export:
        i = list(export["track_id"]).index(track.track_id)
        rows = export["logits"][export["offsets"][i] : export["offsets"][i + 1]]
        np.testing.assert_array_equal(rows, examples[track.track_id]["logits"])
    released = emovox_logits.load_emovox_logits(out / "frame_logits.mat")
    assert [n.rsplit(".", 1)[0] for n in released.names] == written
    assert (out / "figure4_dominant_emotions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.md").read_text()
    assert "| split | identities | tracks | hours | labelled frames |" in summary
    assert f"| total | {manifest.identity.nunique()} | {len(written)} |" in summary
    report = json.loads((out / "build_report.json").read_text())
    assert report["scan"]["skipped"] == {
        "audio with no track": 1,
        "track with no audio": 1,
        "track with no frames": 1,
        "unreadable track file": 1,
    }
    assert report["planning"]["skipped"] == {emovoxceleb.SKIP_NO_FRAME_SOURCE: 1}
    assert report["processing"]["skipped"] == {emovoxceleb.SKIP_FRAMES: 1}
    assert "id10006/vid6x1/00001" in report["processing"]["examples"][emovoxceleb.SKIP_FRAMES][0]
    assert load_config(out / "config.toml").name == "demo"


def test_rerun_skips_finished_shards_and_changed_options_are_refused(
    single_build, vox1, teacher_path, capsys
):
    root, _ = vox1
    before = _shard_bytes(single_build)
    assert _build(root, single_build, "--teacher", str(teacher_path)) == 0
    assert "built 0 shard files" in capsys.readouterr().out
    assert _shard_bytes(single_build) == before
    with pytest.raises(SystemExit, match="error: .*planned differently \\(options differ: audio"):
        _build(root, single_build, "--teacher", str(teacher_path), "--audio", "waveform")


@pytest.mark.slow
def test_interrupted_build_resumes_to_identical_shards(
    vox1, single_build, teacher_path, tmp_path, monkeypatch
):
    root, _ = vox1
    out = tmp_path / "killed"
    original = emovoxceleb.ShardFile.add
    calls = {"n": 0}

    def dying_add(self, example, record):
        calls["n"] += 1
        if calls["n"] > 6:
            raise RuntimeError("simulated kill")
        return original(self, example, record)

    monkeypatch.setattr(emovoxceleb.ShardFile, "add", dying_add)
    with pytest.raises(RuntimeError, match="simulated kill"):
        _build(root, out, "--teacher", str(teacher_path))
    monkeypatch.undo()

    reference = _shard_bytes(single_build)
    partial = _shard_bytes(out)
    assert list(out.glob("*.tfrecord.tmp")), "the interrupted shard must stay a .tmp file"
    assert 0 < len(partial) < len(reference)
    for name, data in partial.items():  # whatever looks finished is complete
        assert data == reference[name], name
    assert not (out / "manifest.csv").exists()

    assert _build(root, out, "--teacher", str(teacher_path)) == 0
    assert _shard_bytes(out) == reference
    assert not list(out.glob("*.tmp")) and not list((out / "parts").glob("*.tmp"))
    assert (out / "manifest.csv").read_bytes() == (single_build / "manifest.csv").read_bytes()


def test_parts_are_disjoint_and_their_union_is_the_single_build(
    vox1, single_build, teacher_path, tmp_path, capsys
):
    root, _ = vox1
    out = tmp_path / "parts"
    # Part 1 without any threads (decoding, teacher and writing in one thread): same bytes.
    assert (
        _build(
            root,
            out,
            "--teacher",
            str(teacher_path),
            "--num-shards",
            "2",
            "--shard-index",
            "1",
            "--workers",
            "0",
        )
        == 0
    )
    assert "Not finalised yet" in capsys.readouterr().out
    part1 = set(_shard_bytes(out))
    assert not (out / "manifest.csv").exists()
    with pytest.raises(SystemExit, match="planned shard files are missing"):
        build_emovoxceleb.main(["--out", str(out), "--finalize"])
    assert (
        _build(root, out, "--teacher", str(teacher_path), "--num-shards", "2", "--shard-index", "0")
        == 0
    )
    part0 = set(_shard_bytes(out)) - part1
    reference = _shard_bytes(single_build)
    assert part0 and part1 and not part0 & part1
    assert part0 | part1 == set(reference)
    assert _shard_bytes(out) == reference
    assert (out / "manifest.csv").read_bytes() == (single_build / "manifest.csv").read_bytes()
    (out / "summary.md").unlink()
    assert build_emovoxceleb.main(["--out", str(out), "--finalize"]) == 0
    assert (out / "summary.md").exists()


def test_released_logits_file_instead_of_a_teacher(vox1, tmp_path, rng):
    root, written = vox1
    tracks, _ = voxceleb.scan(root, "voxceleb1")
    names, logits, sets = [], [], []
    for i, track in enumerate(tracks):
        if track.track_id == "id10003/vid3x1/00001":
            continue  # no entry: reported
        identity = "Celebrity_One" if track.identity == "id10001" else track.identity
        names.append(f"{identity}/{track.video}/{track.track}.wav")
        logits.append(rng.standard_normal((track.num_labelled_frames, 8)).astype(np.float32))
        sets.append(2 if track.identity == "id10005" else (3 if i % 4 == 1 else 1))
    names.append("Nobody/zzz/00001.wav")
    logits.append(np.zeros((2, 8), np.float32))
    sets.append(1)
    mat = tmp_path / "senet50-ferplus-logits.mat"
    _authors_mat(mat, names, logits, sets=sets)

    out = tmp_path / "from_logits"
    assert _build(root, out, "--logits", str(mat), "--audio", "waveform", "--splits", "file") == 0
    examples, _ = _read(out)
    by_name = {n.rsplit(".", 1)[0]: (x, s) for n, x, s in zip(names, logits, sets, strict=True)}
    # Tracks with no frames need none here; the corrupt video does not matter either.
    assert "id10002/novideo/00001" in examples and "id10006/vid6x1/00001" in examples
    assert "id10003/vid3x1/00001" not in examples
    for track_id, example in examples.items():
        identity, video, track = track_id.split("/")
        key = f"{'Celebrity_One' if identity == 'id10001' else identity}/{video}/{track}"
        np.testing.assert_array_equal(example["logits"], by_name[key][0])
        assert example["split"].decode() == emovox_logits.AUTHORS_SET_CODES[by_name[key][1]]
        assert example["audio_kind"] == b"waveform"
        waveform = load_audio(root / "wav" / identity / video / f"{track}.wav")
        np.testing.assert_allclose(example["waveform"], waveform, atol=0.6 / 32768)
    report = json.loads((out / "build_report.json").read_text())
    assert report["planning"]["skipped"] == {emovoxceleb.SKIP_NO_LOGITS: 1}
    assert report["planning"]["notes"] == {emovoxceleb.NOTE_UNUSED_LOGITS: 1}


@pytest.mark.parametrize("layout", ["voxceleb2", "frames"])
def test_other_layouts_build_from_one_command(layout, teacher_path, tmp_path):
    root = tmp_path / layout
    if layout == "voxceleb2":
        expected = make_voxceleb2(root, identities=4)
    else:
        expected = make_frames_layout(root, identities=3)
    out = tmp_path / "out"
    assert _build(root, out, "--teacher", str(teacher_path), layout=layout) == 0
    examples, _ = _read(out)
    assert sorted(examples) == expected
    for example in examples.values():
        assert example["logits"].shape == (7, 8)
        assert example["spectrogram"].shape[0] == (int(example["num_samples"]) - 400) // 160 + 1
    report = json.loads((out / "build_report.json").read_text())
    assert report["scan"]["num_skipped"] == (2 if layout == "voxceleb2" else 3)


def test_command_line_errors(tmp_path, teacher_path, vox1):
    root, _ = vox1
    with pytest.raises(SystemExit, match="error: --root .* does not exist"):
        _build(tmp_path / "missing", tmp_path / "o", "--teacher", str(teacher_path))
    with pytest.raises(SystemExit, match="error: No usable tracks .*13 boxes in the wrong units"):
        _build(root, tmp_path / "o", "--teacher", str(teacher_path), layout="voxceleb2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="error: No voxceleb1 layout found under .*expected txt/"):
        _build(tmp_path / "empty", tmp_path / "o", "--teacher", str(teacher_path))
    with pytest.raises(SystemExit, match="error: Teacher file not found"):
        _build(root, tmp_path / "o", "--teacher", str(tmp_path / "nope.keras"))
    with pytest.raises(SystemExit, match="error: Logits file not found"):
        _build(root, tmp_path / "o", "--logits", str(tmp_path / "nope.mat"))
    with pytest.raises(SystemExit, match="error: .*unknown key 'frames.stride'"):
        _build(root, tmp_path / "o", "--teacher", str(teacher_path), "--set", "frames.stride=3")
    with pytest.raises(SystemExit, match="error: .* has no plan.json"):
        build_emovoxceleb.main(["--out", str(tmp_path / "empty"), "--finalize"])
    for argv in (
        ["--root", str(root), "--layout", "voxceleb1"],  # neither --teacher nor --logits
        [
            "--root",
            str(root),
            "--layout",
            "voxceleb1",
            "--teacher",
            "t",
            "--num-shards",
            "2",
            "--shard-index",
            "2",
        ],
        ["--root", str(root), "--layout", "voxceleb9", "--teacher", "t"],
    ):
        with pytest.raises(SystemExit) as info:
            build_emovoxceleb.main(argv)
        assert info.value.code == 2


def test_plan_is_deterministic_and_balanced(vox1):
    root, _ = vox1
    tracks, report = voxceleb.scan(root, "voxceleb1")
    config = load_config("demo")
    labeller = emovoxceleb.TeacherLabeller(None, lambda *a, **k: None)
    options = emovoxceleb.BuildOptions(shard_mb=0.05)
    plan = emovoxceleb.plan_build(tracks, report, labeller=labeller, config=config, options=options)
    again = emovoxceleb.plan_build(
        list(reversed(tracks)), report, labeller=labeller, config=config, options=options
    )
    assert plan.to_json() == again.to_json()
    planned = [t for s in plan.shards for t in s.track_ids]
    assert len(planned) == len(set(planned)) == len(plan.splits)
    parts = [emovoxceleb.assigned_shards(plan, 3, i) for i in range(3)]
    assert sorted(s.name for p in parts for s in p) == sorted(s.name for s in plan.shards)
    expected = "`shard_mb` must be a finite number > 0. Received: shard_mb=0"
    with pytest.raises(ValueError, match=expected):
        emovoxceleb.BuildOptions(shard_mb=0)


@pytest.mark.slow
def test_synthetic_tiny_corpus_builds_from_one_command_without_touching_ground_truth(
    teacher_path, tmp_path
):
    from kerasemo.data.synthetic import forbid_ground_truth, generate_corpus

    corpus = tmp_path / "synthetic"
    generate_corpus(corpus, preset="tiny", seed=0, contact_sheet=False)
    out = tmp_path / "shards"
    with forbid_ground_truth(corpus):
        assert (
            build_emovoxceleb.main(
                [
                    "--root",
                    str(corpus),
                    "--layout",
                    "voxceleb1",
                    "--teacher",
                    str(teacher_path),
                    "--out",
                    str(out),
                    "--config",
                    "demo",
                    "--no-progress",
                ]
            )
            == 0
        )
    examples, files = _read(out)
    expected = sorted(
        "/".join(p.relative_to(corpus / "voxceleb" / "txt").with_suffix("").parts)
        for p in (corpus / "voxceleb" / "txt").rglob("*.txt")
    )
    assert sorted(examples) == expected
    assert {name.split("-")[0] for name in files} == set(schema.SPLITS)
    report = json.loads((out / "build_report.json").read_text())
    assert report["scan"]["num_skipped"] == 0 and report["processing"]["skipped"] == {}
    for example in examples.values():
        count = example["logits"].shape[0]
        assert count >= 1
        np.testing.assert_allclose(example["frame_times"], np.arange(count) * 0.24, rtol=1e-6)


def test_voxceleb2_face_clips_are_used_whole_in_auto_mode(tmp_path):
    from test_voxceleb import write_m4a, write_mp4, write_txt

    root = tmp_path / "vox2"
    write_txt(
        root / "txt" / "id00001" / "v" / "00001.txt",
        "id00001",
        "v",
        range(12),
        (0.4, 0.3, 0.2, 0.3),
        normalised=True,
    )
    write_m4a(root / "aac" / "id00001" / "v" / "00001.m4a", 0.5, seed=0)
    write_mp4(root / "mp4" / "id00001" / "v" / "00001.mp4", 12, 224, 224)
    (track,), _ = voxceleb.scan(root, "voxceleb2")
    config = load_config("demo")
    for mode, side in (("auto", 224), ("whole", 224), ("box", 67)):  # box: 0.3 x 224 = 67 px
        preparer = emovoxceleb.TrackPreparer(
            config, emovoxceleb.BuildOptions(video_crop=mode), None, emovoxceleb.StageTimer(), None
        )
        prepared = emovoxceleb.PreparedTrack(track=track, split="train")
        crops = preparer.face_crops(track, prepared)
        assert [c.shape for c in crops] == [(side, side, 3)] * 2, mode
        assert (emovoxceleb.NOTE_WHOLE_FRAME in prepared.notes) == (mode != "box")


def test_finalize_without_pyarrow_writes_csv_and_warns(single_build, tmp_path):
    import shutil
    import subprocess
    import sys

    out = tmp_path / "copy"
    shutil.copytree(single_build, out)
    (out / "manifest.parquet").unlink(missing_ok=True)
    # pandas picks its string backend when imported, so pyarrow is hidden in a fresh process.
    script = (
        "import sys, logging; sys.modules['pyarrow'] = None; logging.basicConfig(); "
        "from kerasemo.data import emovoxceleb; "
        f"files = emovoxceleb.finalize({str(out)!r}).files; "
        "assert 'manifest_parquet' not in files, files"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "pyarrow is not installed" in run.stderr
    assert not (out / "manifest.parquet").exists()
    assert (out / "manifest.csv").read_bytes() == (single_build / "manifest.csv").read_bytes()
