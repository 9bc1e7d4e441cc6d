"""The Apache Beam build against the single-machine builder, on Beam's in-process DirectRunner.

Same fixture corpus and stand-in teacher as test_build_emovoxceleb: six identities, a track with
no frames (planning skip), a corrupt video (processing skip), JPEG frames, 2-shard train split.
"""

import importlib
import json
import logging
import sys

import numpy as np
import pandas as pd
import pytest
from test_build_emovoxceleb import (  # noqa: F401 - fixtures
    _build,
    _read,
    _shard_bytes,
    single_build,
    teacher_path,
    vox1,
)

# The beam extra is part of the test install (`make test`): a missing Beam fails here, loudly.
import apache_beam as beam  # noqa: E402
from apache_beam.ml.inference.base import RunInference  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402
from apache_beam.testing.util import assert_that  # noqa: E402

from kerasemo.config import load_config  # noqa: E402
from kerasemo.data import beam_build, emovoxceleb, voxceleb  # noqa: E402
from kerasemo.experiments import build_emovoxceleb_beam  # noqa: E402

BEAM_COMMON = ["--shard-mb", "0.2", "--batch-size", "5", "--config", "demo"]


def _beam(root, out, *extra):
    return build_emovoxceleb_beam.main(
        ["--root", str(root), "--layout", "voxceleb1", "--out", str(out), *BEAM_COMMON, *extra]
    )


def test_beam_build_writes_the_single_machine_build(
    vox1, single_build, teacher_path, tmp_path, capsys
):
    root, written = vox1
    out = tmp_path / "beam"
    capsys.readouterr()
    assert _beam(root, out, "--teacher", str(teacher_path)) == 0
    printed = capsys.readouterr().out
    assert "Beam build: built 6 shard files (10 tracks, 1 skipped" in printed
    assert "| total | 5 | 10 |" in printed

    # Same plan, so the same file names holding the same tracks in the same order.
    assert (out / "plan.json").read_text() == (single_build / "plan.json").read_text()
    examples, files = _read(out)
    reference, reference_files = _read(single_build)
    assert files == reference_files
    assert sorted(examples) == written
    for track_id, example in examples.items():
        for key, value in example.items():
            if key == "logits":  # teacher batches differ: equal up to float rounding
                np.testing.assert_allclose(value, reference[track_id][key], rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(value, reference[track_id][key], err_msg=key)

    # The existing finalisation wrote the manifest and the rest from the Beam sidecars.
    manifest = pd.read_csv(out / "manifest.csv", dtype={"track": str})
    expected = pd.read_csv(single_build / "manifest.csv", dtype={"track": str})
    logit_columns = [c for c in manifest.columns if c.startswith("logit_max_")]
    pd.testing.assert_frame_equal(
        manifest.drop(columns=logit_columns), expected.drop(columns=logit_columns)
    )
    np.testing.assert_allclose(
        manifest[logit_columns], expected[logit_columns], rtol=1e-5, atol=1e-6
    )
    assert list(pd.read_parquet(out / "manifest.parquet").track_id) == written
    report = json.loads((out / "build_report.json").read_text())
    assert report["processing"]["skipped"] == {emovoxceleb.SKIP_FRAMES: 1}
    assert report["planning"]["skipped"] == {emovoxceleb.SKIP_NO_FRAME_SOURCE: 1}
    for name in ("summary.md", "frame_logits.npz", "frame_logits.mat", "config.toml"):
        assert (out / name).is_file(), name
    assert not (out / beam_build.WORK_DIR).exists()
    assert not list(out.rglob("*.tmp"))


def test_engines_resume_each_other_to_identical_bytes(vox1, single_build, tmp_path, capsys):
    # Labels from a logits file: no teacher, so every byte is determined by the inputs.
    root, _ = vox1
    logits = ["--logits", str(single_build / "frame_logits.mat"), "--audio", "waveform"]
    reference = tmp_path / "local"
    assert _build(root, reference, *logits) == 0
    mixed = tmp_path / "mixed"
    assert _build(root, mixed, *logits, "--num-shards", "2", "--shard-index", "1") == 0
    local_part = set(_shard_bytes(mixed))
    capsys.readouterr()
    assert _beam(root, mixed, *logits) == 0
    assert f"kept {len(local_part)} finished ones" in capsys.readouterr().out
    assert _shard_bytes(mixed) == _shard_bytes(reference)
    assert (mixed / "manifest.csv").read_bytes() == (reference / "manifest.csv").read_bytes()

    # A finished Beam build is kept by either tool.
    capsys.readouterr()
    assert _beam(root, mixed, *logits) == 0
    assert "Beam build: built 0 shard files" in capsys.readouterr().out
    assert _build(root, mixed, *logits) == 0
    assert "built 0 shard files" in capsys.readouterr().out


@pytest.mark.slow
def test_worker_processes_write_identical_bytes(vox1, single_build, tmp_path):
    # Examples serialised in other processes (protobuf map order is per process otherwise).
    root, _ = vox1
    logits = ["--logits", str(single_build / "frame_logits.mat"), "--audio", "waveform"]
    reference = tmp_path / "local"
    assert _build(root, reference, *logits) == 0
    out = tmp_path / "processes"
    workers = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    assert _beam(root, out, *logits, *workers) == 0
    assert _shard_bytes(out) == _shard_bytes(reference)


def _crops(rng, count, side):
    return [rng.integers(0, 256, (side, side + 2, 3), dtype=np.uint8) for _ in range(count)]


def test_teacher_model_handler_splits_predictions_back_per_track(teacher_path, rng):
    from keras.saving import load_model

    from kerasemo.models.teacher_inference import predict_frame_logits

    handler = beam_build.KerasTeacherModelHandler(teacher_path, load_config("demo"), batch_size=4)
    model = handler.load_model()
    batch = [_crops(rng, 3, 20), [], _crops(rng, 1, 16), _crops(rng, 6, 30)]
    logits = handler.run_inference(batch, model)
    assert [x.shape for x in logits] == [(3, 8), (0, 8), (1, 8), (6, 8)]
    teacher = load_model(teacher_path)
    for crops, values in zip(batch, logits, strict=True):
        if crops:
            expected = predict_frame_logits(teacher, crops)
            np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)
    assert handler.run_inference([], model) == []
    assert handler.get_num_bytes(batch) == sum(c.nbytes for crops in batch for c in crops)

    # Batches are weighted by crops, for plain and keyed elements alike.
    kwargs = handler.batch_elements_kwargs()
    assert kwargs["max_batch_size"] == kwargs["min_batch_size"] == 4
    size = kwargs["element_size_fn"]
    assert size(batch[3]) == size(("id/v/00001", batch[3])) == 6
    assert size(tuple(batch[0][:2])) == 2  # a pair of crops is not a (key, crops) pair
    assert size([]) == 1
    keyed = beam_build.KeyedTeacherModelHandler(handler)
    assert keyed.run_inference([], model) == []
    pairs = keyed.run_inference([("a", batch[0]), ("b", batch[2])], model)
    assert [(k, v.shape) for k, v in pairs] == [("a", (3, 8)), ("b", (1, 8))]
    expected = "`batch_size` must be a positive integer. Received: batch_size=0"
    with pytest.raises(ValueError, match=expected):
        beam_build.KerasTeacherModelHandler(teacher_path, load_config("demo"), batch_size=0)


_LOADS = []


class _CountingHandler(beam_build.KerasTeacherModelHandler):
    def load_model(self):
        _LOADS.append(self.teacher_path)
        return super().load_model()


def test_run_inference_loads_the_teacher_once_and_keys_each_track(teacher_path, rng):
    handler = _CountingHandler(teacher_path, load_config("demo"), batch_size=4)
    tracks = {f"t{i:02d}": _crops(rng, 1 + i % 6, 16 + i) for i in range(12)}  # up to 6 > 4
    expected = {k: handler.run_inference([v], handler.load_model())[0] for k, v in tracks.items()}
    _LOADS.clear()

    def check(outputs):
        assert sorted(k for k, _ in outputs) == sorted(tracks)
        for key, logits in outputs:
            np.testing.assert_allclose(logits, expected[key], rtol=1e-5, atol=1e-6)

    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as pipeline:
        outputs = (
            pipeline
            | beam.Create(sorted(tracks.items()))
            | RunInference(beam_build.KeyedTeacherModelHandler(handler))
        )
        assert_that(outputs, check)
    assert len(_LOADS) == 1


def test_errors_are_clear(vox1, single_build, teacher_path, tmp_path, caplog, capsys):
    root, _ = vox1
    with pytest.raises(SystemExit, match="error: Teacher file not found"):
        _beam(root, tmp_path / "o", "--teacher", str(tmp_path / "nope.keras"))
    with pytest.raises(SystemExit, match="error: --root .* does not exist"):
        _beam(tmp_path / "missing", tmp_path / "o", "--teacher", str(teacher_path))
    with pytest.raises(SystemExit, match="error: .*planned differently \\(options differ: audio"):
        _beam(root, single_build, "--teacher", str(teacher_path), "--audio", "waveform")
    with pytest.raises(SystemExit) as info:  # one of our options, misspelt Beam-style
        _beam(root, tmp_path / "o", "--teacher", str(teacher_path), "--shard_mb", "3")
    assert info.value.code == 2
    assert "did you mean --shard-mb?" in capsys.readouterr().err

    parser = build_emovoxceleb_beam.build_parser()
    with caplog.at_level(logging.WARNING):
        build_emovoxceleb_beam._check_pipeline_arguments(
            parser, ["--runner", "FlinkRunner", "--parallelism", "4", "--no_such_option", "1"]
        )
    assert "--no_such_option" in caplog.text and "--parallelism" not in caplog.text

    tracks, report = voxceleb.scan(root, "voxceleb1")
    config = load_config("demo")
    with pytest.raises(FileNotFoundError, match="Teacher file not found"):
        beam_build.build(
            tracks, report, tmp_path / "o", config=config, teacher=tmp_path / "x.keras"
        )
    with pytest.raises(TypeError, match="exactly one of teacher"):
        beam_build.build(tracks, report, tmp_path / "o", config=config)
    labeller = emovoxceleb.TeacherLabeller(None, lambda *a, **k: None)
    with pytest.raises(TypeError, match="pass teacher=PATH instead of a TeacherLabeller"):
        beam_build.build(tracks, report, tmp_path / "o", config=config, labeller=labeller)


def test_without_beam_the_error_names_the_extra(vox1, teacher_path, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "kerasemo.data.beam_build")
    monkeypatch.delattr(importlib.import_module("kerasemo.data"), "beam_build")
    with pytest.raises(ImportError, match=r'pip install "kerasemo\[beam\]"'):
        importlib.import_module("kerasemo.data.beam_build")
    root, _ = vox1
    with pytest.raises(SystemExit, match=r'error: .*pip install "kerasemo\[beam\]"'):
        _beam(root, tmp_path / "o", "--teacher", str(teacher_path))
    importlib.import_module("kerasemo.data.emovoxceleb")  # the single-machine builder needs none
