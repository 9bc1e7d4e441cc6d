"""A build killed with SIGKILL and rerun gives the bytes of an uninterrupted build, file by file.

Same fixture corpus as test_build_emovoxceleb, and its stand-in teacher ending in
`shard_fixtures.BatchShapeRounding`, which rounds like real teachers do: differently in a graph
traced for a static batch shape and in one traced for a relaxed shape. With teacher batches of
8 crops (7 per track), the uninterrupted build's first batch has 8 crops and the resumed
build's first has 7, so a teacher call whose result depends on earlier calls shows up here.

The interrupted build runs in a real subprocess that stalls inside its 3rd example write (the
first shard finished, the second an open ``.tmp``) until the test kills it.
"""

import hashlib
import pathlib
import signal
import subprocess
import sys
import threading

import pytest
from shard_fixtures import save_standin_teacher
from test_build_emovoxceleb import COMMON, _build, vox1  # noqa: F401 - fixture

BATCH = ["--batch-size", "8"]

# Runs the builder's entry point, stalling in the 3rd `ShardFile.add` call until killed.
_STALLING_BUILD = f"""
import sys, time
sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
import shard_fixtures  # registers the stand-in teacher's layer
from kerasemo.data import emovoxceleb
from kerasemo.experiments import build_emovoxceleb

add = emovoxceleb.ShardFile.add
calls = [0]

def stalling_add(self, example, record):
    calls[0] += 1
    if calls[0] == 3:
        print("stalled", flush=True)
        time.sleep(600)
    return add(self, example, record)

emovoxceleb.ShardFile.add = stalling_add
sys.exit(build_emovoxceleb.main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def sensitive_teacher(tmp_path_factory):
    path = tmp_path_factory.mktemp("teacher") / "trace_sensitive.keras"
    return save_standin_teacher(path, trace_sensitive=True)


def _digests(folder):
    """{relative path: sha256} of every file under `folder`."""
    folder = pathlib.Path(folder)
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _build_until_stalled_then_kill(argv, log):
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", _STALLING_BUILD, *argv],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        watchdog = threading.Timer(120, process.kill)  # never hang the test run
        watchdog.start()
        try:
            stalled = any(line.strip() == "stalled" for line in process.stdout)
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
        finally:
            watchdog.cancel()
    assert stalled, f"the build never reached its 3rd example:\n{log.read_text()[-3000:]}"
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkilled_build_resumes_to_the_uninterrupted_bytes(vox1, sensitive_teacher, tmp_path):
    root, _ = vox1
    teacher = ["--teacher", str(sensitive_teacher), *BATCH]
    assert _build(root, tmp_path / "reference", *teacher) == 0
    reference = _digests(tmp_path / "reference")

    out = tmp_path / "killed"
    argv = ["--root", str(root), "--layout", "voxceleb1", "--out", str(out)]
    _build_until_stalled_then_kill([*argv, *COMMON, *teacher], tmp_path / "killed.log")
    assert [p.name for p in out.glob("*.tfrecord")] == ["train-00000-of-00004.tfrecord"]
    assert [p.name for p in out.glob("*.tfrecord.tmp")] == ["train-00001-of-00004.tfrecord.tmp"]
    assert not (out / "manifest.csv").exists()
    partial = _digests(out)
    for name in ("train-00000-of-00004.tfrecord", "parts/train-00000-of-00004.tfrecord.npz"):
        assert partial[name] == reference[name], name  # what looks finished is complete

    assert _build(root, out, *teacher) == 0
    resumed = _digests(out)
    assert sorted(resumed) == sorted(reference)
    different = [name for name in reference if resumed[name] != reference[name]]
    assert not different, f"files that differ from the uninterrupted build: {different}"
