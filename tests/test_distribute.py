"""Training with tf.distribute: strategies, roles, input splitting, loss scaling, two workers.

The multi-device and multi-worker runs happen in fresh Python processes: logical devices and
collective ops must be configured before TensorFlow starts, which it already has in this one.
"""

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
import types
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasemo import distribute
from kerasemo.config import apply_overrides, load_config
from kerasemo.data import pipeline
from kerasemo import training
from kerasemo.experiments import distill
from kerasemo.data.ferplus import write_ferplus
from kerasemo.models import predict_batch
from kerasemo.models.losses import distillation_loss
from face_fixtures import TINY_TEACHER, pattern_faces
from shard_fixtures import TINY_DISTILL, write_distill_splits

TINY = TINY_DISTILL
WORKER_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """8 training tracks in 2 files (one per worker), 6 + 6 validation tracks."""
    return write_distill_splits(tmp_path_factory.mktemp("shards"))


def _child_env(**extra):
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)
    env.update(KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(__file__)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.update(extra)
    return env


# --- strategies and roles -------------------------------------------------------------------


def test_make_strategy_rejects_unknown_names_and_missing_cluster(monkeypatch):
    with pytest.raises(distribute.StrategyError, match="one of default, mirrored, multi_worker"):
        distribute.make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(distribute.StrategyError, match="needs TF_CONFIG"):
        distribute.make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{cluster: oops")
    with pytest.raises(distribute.StrategyError, match="not valid JSON"):
        distribute.make_strategy("multi_worker")


def test_loopback_cluster_configs_name_every_worker_once():
    configs = [json.loads(c) for c in distribute.loopback_tf_configs(3)]
    hosts = configs[0]["cluster"]["worker"]
    assert len(set(hosts)) == 3 and all(h.startswith("127.0.0.1:") for h in hosts)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(c["cluster"]["worker"] == hosts for c in configs)


def test_default_strategy_is_a_single_chief():
    strategy = distribute.make_strategy("default")
    role = distribute.worker_role(strategy)
    assert strategy.num_replicas_in_sync == 1
    assert role == distribute.WorkerRole(None, 0, 1, True)
    assert role.describe() == "single process"


@pytest.mark.parametrize(
    "cluster, task_type, task_id, chief",
    [
        ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
        ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
        ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "chief", 0, True),
        ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "worker", 0, False),
    ],
)
def test_worker_role_follows_the_cluster(cluster, task_type, task_id, chief):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
    )
    role = distribute.worker_role(types.SimpleNamespace(cluster_resolver=resolver))
    assert role.is_chief is chief
    assert role.num_workers == sum(len(hosts) for hosts in cluster.values())
    assert (task_type, task_id) == (role.task_type, role.task_id)


def test_files_and_batches_split_evenly_or_fail_with_advice():
    files = [f"train-{i:05d}-of-00005.tfrecord" for i in range(5)]
    parts = [distribute.shard_files_for_pipeline(files, 2, i) for i in range(2)]
    assert sorted(parts[0] + parts[1]) == files and not set(parts[0]) & set(parts[1])
    with pytest.raises(distribute.StrategyError, match="--shard-mb"):
        distribute.shard_files_for_pipeline(files[:1], 2, 0)
    mirrored = types.SimpleNamespace(num_replicas_in_sync=4)
    assert distribute.per_replica_batch_size(mirrored, 64) == 16
    with pytest.raises(distribute.StrategyError, match="multiple of 4"):
        distribute.per_replica_batch_size(mirrored, 30)


def test_non_chief_backup_restores_but_never_writes(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32)
    backup = tmp_path / "backup"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        distribute.WorkerBackupAndRestore(str(backup), chief=False)])
    assert not backup.exists()
    chief = distribute.WorkerBackupAndRestore(str(backup), chief=True, delete_checkpoint=False)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[chief])
    saved = sorted(p.name for p in backup.iterdir())
    # A worker restarted after the chief's epoch 2 resumes there: no epoch left to run.
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[
        distribute.WorkerBackupAndRestore(str(backup), chief=False)])
    assert history.history == {}
    assert sorted(p.name for p in backup.iterdir()) == saved


# --- several replicas on one machine --------------------------------------------------------

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from kerasemo import distribute
    from kerasemo.config import apply_overrides, load_config
    from kerasemo import training
    from kerasemo.models import Distiller

    two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    # One SGD step on the same global batch: 2 replicas must move the weights as 1 device does.
    def one_step(strategy):
        keras.utils.set_random_seed(1)
        with strategy.scope():
            student = keras.Sequential([
                keras.Input((6,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                keras.layers.Dense(8),
            ])
            model = Distiller(student, temperature=2.0, weight_decay=0.01)
            model.compile(optimizer=keras.optimizers.SGD(0.5))
            distribute.prepare_for_fit(model, strategy)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 6)).astype("float32")
        t = rng.standard_normal((4, 8)).astype("float32")
        data = tf.data.Dataset.from_tensor_slices((x, t)).batch(4)
        model.fit(data, epochs=1, verbose=0, shuffle=False)
        return [w.numpy().tolist() for w in student.weights]

    single = one_step(tf.distribute.get_strategy())
    double = one_step(two)
    gap = max(float(np.abs(np.subtract(a, b)).max()) for a, b in zip(single, double))

    experiment = apply_overrides(load_config("demo"), json.loads(sys.argv[3]))
    result = training.distill(experiment, sys.argv[1], sys.argv[2], verbose=0, strategy=two)
    print("RESULT " + json.dumps({"gap": gap, "replicas": two.num_replicas_in_sync,
                                  "epochs": result.epochs_run, "auc": result.auc}))
    """
)


@pytest.mark.slow
def test_mirrored_two_replicas_train_like_one_device_and_write_the_run(shards, tmp_path):
    out = tmp_path / "mirrored"
    overrides = TINY + ["distill.epochs=2"]
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(shards), str(out), json.dumps(overrides)],
        env=_child_env(), capture_output=True, text=True, timeout=WORKER_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert result["replicas"] == 2 and result["epochs"] == 2
    # Replica losses are scaled by 1/2 before the summed all-reduce (no doubled step) and batch
    # norm uses the global batch: the weights, moving statistics included, match one device.
    assert result["gap"] < 1e-6
    # Validation batches of odd sizes (6 tracks, buckets) split over 2 replicas still evaluate.
    assert result["auc"]["unheard_val"]["num_tracks"] == 6
    assert (out / "student.keras").exists() and (out / "auc.json").exists()
    # Synchronised batch norm is a training-time setting: the saved student loads anywhere.
    config = json.loads(zipfile.ZipFile(out / "student.keras").read("config.json"))
    assert '"synchronized": true' not in json.dumps(config)
    norms = [layer for layer in keras.saving.load_model(out / "student.keras")._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and not any(layer.synchronized for layer in norms)


# --- two workers on loopback ----------------------------------------------------------------


def _run_two_workers(module, argv_of_worker):
    """Runs ``python -m module`` as workers 0 and 1 of a loopback cluster; returns their logs."""
    results = distribute.run_loopback_workers(
        lambda index: [sys.executable, "-m", module, "--strategy", "multi_worker"]
        + argv_of_worker(index),
        env=_child_env(),
        timeout=WORKER_TIMEOUT_S,
    )
    for index, (returncode, log) in enumerate(results):
        assert returncode == 0, f"worker {index} failed:\n{log[-4000:]}"
    return [log for _, log in results]


def _final_digests(logs):
    digests = [set(re.findall(r"weights sha256 ([0-9a-f]{64})", log)) for log in logs]
    assert all(len(found) == 1 for found in digests), [log[-3000:] for log in logs]
    assert digests[0] == digests[1], "the workers ended with different weights"
    return digests[0]


@pytest.mark.slow
def test_two_workers_train_in_lock_step_and_only_the_chief_writes(shards, tmp_path):
    outs = [tmp_path / f"worker{index}" for index in range(2)]
    settings = [arg for override in TINY + ["distill.epochs=1"] for arg in ("--set", override)]
    logs = _run_two_workers(
        "kerasemo.experiments.distill",
        lambda index: ["--config", "demo", "--data", str(shards), "--out", str(outs[index])] + settings,
    )
    digest = _final_digests(logs)
    assert "2 workers (chief)" in logs[0] and "worker 1 of 2 workers" in logs[1]

    # The chief wrote the run; the other worker wrote nothing at all.
    assert not outs[1].exists()
    for name in ("student.keras", "auc.json", "distiller_history.csv", "config.toml"):
        assert (outs[0] / name).exists(), name
    saved = keras.saving.load_model(outs[0] / "student.keras")
    assert {distribute.weights_fingerprint(saved)} == digest  # one epoch: best = final
    # Both workers read the whole validation set: the logged loss is the one-device loss.
    logged = json.loads((outs[0] / "student.keras.json").read_text())["best"]
    crops = pipeline.validation_crops(pipeline.shard_files(shards, "unheard_val"), crop_frames=100)
    teacher = np.concatenate([target.numpy() for _, target in crops])
    student = np.concatenate([predict_batch(saved, spectrogram) for spectrogram, _ in crops])
    expected = distillation_loss(teacher_logits=teacher, student_logits=student, temperature=2.0)
    assert logged == pytest.approx(float(np.mean(expected)), rel=1e-5)


def test_cli_explains_strategy_mistakes(shards, monkeypatch, tmp_path):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit, match="needs TF_CONFIG"):
        distill.main(["--data", str(shards), "--out", str(tmp_path / "a"), "--strategy", "multi_worker"])
    with pytest.raises(SystemExit, match="needs --data"):
        distill.main(["--strategy", "mirrored"])
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
def test_two_workers_train_the_teacher_and_only_the_chief_evaluates(tmp_path):
    ferplus = tmp_path / "ferplus"
    ferplus.mkdir()
    write_ferplus(ferplus, *pattern_faces(200))
    outs = [tmp_path / f"teacher{index}" for index in range(2)]
    logs = _run_two_workers(
        "kerasemo.experiments.train_teacher",
        lambda index: ["--config", "demo", "--data", str(ferplus), "--out", str(outs[index]), "--epochs", "1",
                       "--cache-dir", str(tmp_path / f"cache{index}"),
                       "--baseline-max-iter", "20"] + TINY_TEACHER,
    )
    digest = _final_digests(logs)
    assert not outs[1].exists()
    metrics = json.loads((outs[0] / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and 0.0 <= metrics["teacher"]["accuracy"] <= 1.0
    assert len(list(csv.DictReader((outs[0] / "training_log.csv").open()))) == 1
    # Batch norm is synchronised: the moving statistics agree too, and one epoch's checkpoint
    # is the final model.
    saved = keras.saving.load_model(outs[0] / "teacher.keras", compile=False)
    assert {distribute.weights_fingerprint(saved)} == digest


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt("simulated kill after epoch 1")


@pytest.mark.slow
def test_workers_that_restore_different_epochs_stop_with_advice(shards, tmp_path):
    # Worker 0's folder holds a backup after epoch 1; worker 1's folder (not shared) holds none.
    experiment = apply_overrides(load_config("demo"), TINY + ["distill.epochs=2"])
    with pytest.raises(KeyboardInterrupt):
        training.distill(experiment, shards, tmp_path / "worker0", verbose=0,
                                 extra_callbacks=[_CrashAfterFirstEpoch()])
    settings = [arg for override in TINY + ["distill.epochs=2"] for arg in ("--set", override)]
    results = distribute.run_loopback_workers(
        lambda index: [sys.executable, "-m", "kerasemo.experiments.distill", "--strategy",
                       "multi_worker", "--config", "demo", "--data", str(shards), "--out",
                       str(tmp_path / f"worker{index}")] + settings,
        env=_child_env(),
        timeout=WORKER_TIMEOUT_S,
    )
    for returncode, log in results:
        assert returncode != 0, log[-3000:]
        assert "restored different epochs" in log and "filesystem every worker reads" in log


def test_validation_batches_never_leave_a_replica_empty():
    from kerasemo.distribute import validation_batch_size

    for num, batch, replicas in [(6, 4, 2), (7, 4, 2), (127, 32, 2), (130, 32, 4), (3, 64, 2), (100, 8, 3)]:
        size = validation_batch_size(num, batch, replicas)
        remainder = num % size
        per_replica = size // replicas
        assert remainder == 0 or remainder > (replicas - 1) * per_replica or size == num, (num, batch, replicas, size)
    assert validation_batch_size(130, 32, 1) == 32  # one device: unchanged
