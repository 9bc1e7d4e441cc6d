"""TensorFlow's native start-up notices are kept off the terminal, and nothing else is lost."""

import os
import subprocess
import sys

import pytest

from kerasemo.quiet import SHOW_ENV, is_start_up_notice

_SCRIPT = (
    "import os, sys\n"
    "from kerasemo.quiet import import_tensorflow_quietly\n"
    "tf = import_tensorflow_quietly()\n"
    "os.write(2, b'native line after the import\\n')\n"
    "print(float(tf.reduce_sum(tf.ones([3]))))\n"
)


def _run(extra_env):
    env = {**os.environ, **extra_env}
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow
def test_start_up_notices_are_filtered_and_other_output_kept():
    quiet = _run({SHOW_ENV: "0"})
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "3.0"
    assert "native line after the import" in quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if is_start_up_notice(line)], quiet.stderr
    loud = _run({SHOW_ENV: "1"})
    assert loud.returncode == 0, loud.stderr
    assert any(is_start_up_notice(line) for line in loud.stderr.splitlines()), loud.stderr


@pytest.mark.parametrize(
    "line, notice",
    [
        ("I0000 00:00:1796178383.339725   27890 port.cc:153] oneDNN custom operations are on.", True),
        ("E0000 00:00:1796178392.553122   27890 cuda_platform.cc:52] failed call to cuInit", True),
        ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
        ("To enable the following instructions: AVX2 FMA, in other operations, rebuild", True),
        ("UserWarning: something the user should read", False),
        ("error: --data /x: not found", False),
    ],
)
def test_notice_pattern(line, notice):
    assert is_start_up_notice(line) is notice


@pytest.mark.slow
def test_a_redirected_distill_writes_one_line_per_epoch_and_no_progress_bars(tmp_path):
    """Output to a file (a log, a batch job): no carriage returns, backspaces or escape codes."""
    from shard_fixtures import TINY_DISTILL, write_distill_splits

    shards = write_distill_splits(tmp_path / "shards")
    argv = [sys.executable, "-m", "kerasemo.experiments.distill", "--data", str(shards),
            "--out", str(tmp_path / "run"), "--config", "demo", "--set", "distill.epochs=2"]
    for item in TINY_DISTILL:
        argv += ["--set", item]
    log = tmp_path / "distill.log"
    with open(log, "wb") as handle:
        completed = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, timeout=300)
    data = log.read_bytes()
    assert completed.returncode == 0, data.decode()[-3000:]
    for control in (b"\r", b"\x08", b"\x1b"):
        assert control not in data, (control, data.decode()[-3000:])
    lines = data.decode().splitlines()
    # Not one of TensorFlow's native notices either, including oneDNN's float16 notice, which
    # comes at the first float16 op (reading the shards), long after TensorFlow is imported.
    assert not [line for line in lines if is_start_up_notice(line)], data.decode()[-3000:]
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    assert len([line for line in lines if " - loss: " in line]) == 2  # one summary line per epoch
    assert "ROC AUC per emotion" in data.decode()


def test_quiet_distill_prints_only_its_results(tmp_path, capfd):
    from shard_fixtures import TINY_DISTILL, write_distill_splits

    from kerasemo.experiments import distill

    shards = write_distill_splits(tmp_path / "shards")
    argv = ["--data", str(shards), "--out", str(tmp_path / "run"), "--config", "demo", "-q"]
    for item in TINY_DISTILL + ["distill.epochs=1"]:
        argv += ["--set", item]
    assert distill.main(argv) == 0
    out, err = capfd.readouterr()
    assert "Epoch" not in out and "distilling:" not in err and "verified" not in err
    assert out.startswith("# Student vs teacher: ROC AUC per emotion")
