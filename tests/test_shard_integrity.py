"""`verify_shards` on a copy of the fixture build: intact, flipped bytes, truncated, repaired.

Same fixture corpus and stand-in teacher as test_build_emovoxceleb.
"""

import shlex
import shutil

import pytest
from test_build_emovoxceleb import (  # noqa: F401 - fixtures
    _shard_bytes,
    single_build,
    teacher_path,
    vox1,
)

from kerasemo.data import emovoxceleb
from kerasemo.data.shard_integrity import ShardIntegrityError, verify_shards
from kerasemo.experiments import build_emovoxceleb


@pytest.fixture
def build_copy(single_build, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(single_build, out)
    return out


def _largest_shard(out):
    return max(out.glob("*.tfrecord"), key=lambda p: p.stat().st_size)


def test_intact_shards_pass_with_their_record_counts(build_copy):
    counts = verify_shards(build_copy)
    assert counts == {
        name: emovoxceleb.read_sidecar(build_copy, name).num_records
        for name in _shard_bytes(build_copy)
    }
    assert sum(counts.values()) == 10
    assert set(verify_shards(build_copy, splits=["heard_val"])) == {
        "heard_val-00000-of-00001.tfrecord"
    }
    with pytest.raises(ValueError, match="Unknown splits \\['test'\\]"):
        verify_shards(build_copy, splits=["test"])


def test_flipped_bytes_name_the_file_and_the_command_that_rebuilds_it(
    build_copy, single_build, teacher_path
):
    shard = _largest_shard(build_copy)
    data = bytearray(shard.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardIntegrityError) as info:
        verify_shards(build_copy)
    message = str(info.value)
    plan = emovoxceleb.BuildPlan.from_json((build_copy / "plan.json").read_text())
    index = [s.name for s in plan.shards].index(shard.name)
    assert "\n" not in message and isinstance(info.value, ValueError)
    assert message.startswith(f"{shard}: a record is corrupt or the file is truncated")
    assert f"--num-shards 6 --shard-index {index}" in message
    assert info.value.path == shard

    # The command in the message rebuilds exactly that shard, to the original bytes.
    command = shlex.split("python -m" + message.split(": python -m", 1)[1])
    assert command[:3] == ["python", "-m", "kerasemo.experiments.build_emovoxceleb"]
    argv = [str(teacher_path) if arg == "TEACHER" else arg for arg in command[3:]]
    shard.unlink()
    emovoxceleb.sidecar_path(build_copy, shard.name).unlink()
    assert build_emovoxceleb.main([*argv, "--no-progress"]) == 0
    assert _shard_bytes(build_copy) == _shard_bytes(single_build)
    assert len(verify_shards(build_copy)) == 6


def test_truncated_and_changed_shards_are_refused(build_copy):
    shard = _largest_shard(build_copy)
    original = shard.read_bytes()
    shard.write_bytes(original[: len(original) // 2])  # tf.data reads on to the cut
    with pytest.raises(ShardIntegrityError, match="only 1 of the 2 records .* truncated"):
        verify_shards(build_copy)
    shard.write_bytes(original[: len(original) // 4])  # inside the first record
    with pytest.raises(ShardIntegrityError, match="truncated"):
        verify_shards(build_copy)

    # A shard from another build: readable, but not the file this build wrote.
    other = next(p for p in build_copy.glob("train-*.tfrecord") if p != shard)
    shard.write_bytes(other.read_bytes())
    with pytest.raises(ShardIntegrityError, match="records but its build wrote|SHA-256 differs"):
        verify_shards(build_copy)

    shard.unlink()
    with pytest.raises(ShardIntegrityError, match="planned shard file is missing"):
        verify_shards(build_copy)
