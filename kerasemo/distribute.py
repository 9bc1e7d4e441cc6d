"""Training on several devices and machines with `tf.distribute`.

The training stages (`distill`, `train_teacher`) take ``--strategy``:

- ``default``: TensorFlow's default strategy (one device: the first GPU, else the CPU).
- ``mirrored``: `tf.distribute.MirroredStrategy`, synchronous data parallelism over every GPU of
  this machine (one replica per GPU; on a machine without GPUs, one CPU replica).
- ``multi_worker``: `tf.distribute.MultiWorkerMirroredStrategy` over several machines, each one
  running the same command with its own ``TF_CONFIG`` (the cluster and the task of this process):

  ```
  TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
              "task": {"type": "worker", "index": 0}}'
  ```

  The strategy must be created before TensorFlow runs anything else, so the entry points create
  it first (`make_strategy`).

**Batch and learning rate.** The configured batch size is the **global** batch: each of the N
replicas in sync gets ``batch / N`` examples, every replica's loss is scaled by ``1 / N`` and the
gradients are summed across replicas, and batch normalisation uses the global batch's
statistics (`prepare_for_fit`), so one step on N replicas is one step on the global batch on
one device. The same configuration therefore gives the same optimisation whatever the number
of replicas. Raise the batch to keep more replicas busy; the distillation stage then scales its
learning rate linearly on its own (it follows the authors' summed loss: the rate per example is
fixed, `kerasemo.training.authors_learning_rate`), while the teacher's configured rates apply
to its batch-mean loss as written (scale them with the batch yourself).

**Input.** Each worker reads its own subset of the training shard files (file ``i`` goes to
input pipeline ``i mod P``, `shard_files_for_pipeline`) through
`tf.distribute.Strategy.distribute_datasets_from_function`, with its own crop seed. Validation
sets are small and of variable length; every worker reads all of it (`replicate_dataset`), so
every replica ends an evaluation at the same step and the averaged loss is exactly the
single-device one.

**Outputs.** Only the chief (``chief`` task, else ``worker`` 0) writes checkpoints, logs and the
final model (`is_chief`); the other workers train in lock-step and exit. Resuming an interrupted
multi-worker run needs the run folder on a filesystem every worker can read: every worker
restores the chief's backup (`WorkerBackupAndRestore`).

Example:

```python
from kerasemo import distribute

strategy = distribute.make_strategy("mirrored")
with strategy.scope():
    model = make_model()
    model.compile(...)
    distribute.prepare_for_fit(model, strategy)
train = distribute.distribute_training_dataset(
    strategy, files, lambda files, batch, index: make_dataset(files, batch, seed=index),
    global_batch_size=64,
)
model.fit(train, callbacks=[...] + (chief_callbacks if distribute.is_chief(strategy) else []))
```
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasemo.strategies import STRATEGIES, STRATEGY_HELP, add_strategy_argument  # noqa: F401


class StrategyError(ValueError):
    """A strategy cannot be built or used as asked (bad name, missing ``TF_CONFIG``, too few files)."""


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """This process's place in the cluster.

    Attributes:
        task_type: ``"chief"``, ``"worker"`` or None (no cluster).
        task_id: index of the task within its type (0 without a cluster).
        num_workers: processes taking part in training (1 without a cluster).
        is_chief: whether this process writes the outputs.
    """

    task_type: str | None
    task_id: int
    num_workers: int
    is_chief: bool

    def describe(self) -> str:
        if self.task_type is None:
            return "single process"
        return f"{self.task_type} {self.task_id} of {self.num_workers} workers" + (
            " (chief)" if self.is_chief else ""
        )


def _parse_tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as err:
        raise StrategyError(
            f"TF_CONFIG is not valid JSON ({err}); received {raw[:200]!r}. Expected e.g. "
            '{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
            '"task": {"type": "worker", "index": 0}}.'
        ) from None
    if not isinstance(parsed, dict):
        raise StrategyError(f"TF_CONFIG must be a JSON object; received {raw[:200]!r}.")
    return parsed


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """Builds the named strategy (call it before any other TensorFlow work in the process).

    Args:
        name: one of `STRATEGIES`.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        StrategyError: for an unknown name, or ``multi_worker`` without a usable ``TF_CONFIG``.

    Example:

    >>> make_strategy("default").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise StrategyError(f"strategy must be one of {', '.join(STRATEGIES)}; received {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    config = _parse_tf_config()
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    if not cluster or "type" not in task or "index" not in task:
        raise StrategyError(
            "--strategy multi_worker needs TF_CONFIG naming the cluster and this process's task, "
            'e.g. TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' on the first machine (index 1 on the '
            f"second); received TF_CONFIG={os.environ.get('TF_CONFIG', '')!r}."
        )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as err:
        raise StrategyError(
            f"MultiWorkerMirroredStrategy could not start ({err}). It must be created before "
            "TensorFlow runs any operation in the process."
        ) from None


def worker_role(strategy: tf.distribute.Strategy | None = None) -> WorkerRole:
    """Who this process is in `strategy`'s cluster (a lone process is its own chief).

    Example:

    >>> worker_role(make_strategy("default")).is_chief
    True
    """
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not spec:
        return WorkerRole(task_type=None, task_id=0, num_workers=1, is_chief=True)
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    num_workers = len(spec.get("chief", [])) + len(spec.get("worker", []))
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in spec)
    return WorkerRole(task_type=task_type, task_id=task_id, num_workers=num_workers, is_chief=chief)


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether this process writes checkpoints, logs and the final model."""
    return worker_role(strategy).is_chief


def is_distributed(strategy: tf.distribute.Strategy) -> bool:
    """Whether `strategy` trains on more than one replica or worker (else: one device).

    Example:

    >>> is_distributed(make_strategy("default"))
    False
    """
    return strategy.num_replicas_in_sync > 1 or worker_role(strategy).num_workers > 1


def per_replica_batch_size(strategy: tf.distribute.Strategy, global_batch_size: int) -> int:
    """The examples each replica gets from a global batch; it must divide evenly.

    Raises:
        StrategyError: when `global_batch_size` is not a multiple of the replicas in sync.

    Example:

    >>> per_replica_batch_size(make_strategy("default"), 64)
    64
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch_size < replicas or global_batch_size % replicas:
        raise StrategyError(
            f"The global batch of {global_batch_size} does not split evenly over "
            f"{replicas} replicas; choose a batch size that is a multiple of {replicas}."
        )
    return global_batch_size // replicas


def shard_files_for_pipeline(files: Sequence[str], num_pipelines: int, pipeline_id: int) -> list[str]:
    """The files input pipeline `pipeline_id` of `num_pipelines` reads (round-robin by file).

    Raises:
        StrategyError: when there are fewer files than pipelines (some worker would get none).

    Example:

    >>> shard_files_for_pipeline(["a", "b", "c", "d", "e"], 2, 1)
    ['b', 'd']
    """
    files = list(files)
    if len(files) < num_pipelines:
        raise StrategyError(
            f"{len(files)} shard file(s) cannot be split by file over {num_pipelines} workers: "
            "every worker needs at least one. Rebuild the shards smaller (build_emovoxceleb "
            "--shard-mb) so there are at least as many files as workers."
        )
    return files[pipeline_id::num_pipelines]


def distribute_dataset(
    strategy: tf.distribute.Strategy,
    make_dataset: Callable[[int, int, int], tf.data.Dataset],
    *,
    global_batch_size: int,
):
    """A training dataset built once per input pipeline (one per worker), for `Model.fit`.

    Args:
        strategy: the training strategy.
        make_dataset: ``make_dataset(per_replica_batch_size, pipeline_id, num_pipelines)``
            returns that pipeline's batched dataset: its own part of the data, and its own
            random seed (from `pipeline_id`). Every pipeline must yield at least as many batches
            as the steps of an epoch (repeat it and give ``steps_per_epoch``).
        global_batch_size: examples per step across all replicas.

    Returns:
        The dataset itself under a single-replica, single-worker strategy (nothing to
        distribute), else a `tf.distribute.DistributedDataset`.

    Raises:
        StrategyError: from `per_replica_batch_size`.
    """
    per_replica = per_replica_batch_size(strategy, global_batch_size)
    if not is_distributed(strategy):
        return make_dataset(per_replica, 0, 1)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        dataset = make_dataset(per_replica, context.input_pipeline_id, context.num_input_pipelines)
        options = tf.data.Options()
        # The data is already split by hand; the strategy must not split it again.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return dataset.with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn)


def distribute_training_dataset(
    strategy: tf.distribute.Strategy,
    files: Sequence[str],
    make_dataset: Callable[[list[str], int, int], tf.data.Dataset],
    *,
    global_batch_size: int,
):
    """`distribute_dataset` for sharded data: each input pipeline reads its own shard files.

    Args:
        strategy: the training strategy.
        files: all training shard files.
        make_dataset: ``make_dataset(files, per_replica_batch_size, pipeline_id)`` returns one
            pipeline's batched dataset (use `pipeline_id` to vary its random seed).
        global_batch_size: examples per step across all replicas.

    Raises:
        StrategyError: from `per_replica_batch_size` and `shard_files_for_pipeline`.
    """
    shard_files_for_pipeline(files, worker_role(strategy).num_workers, 0)  # fail early and clearly
    return distribute_dataset(
        strategy,
        lambda batch, index, count: make_dataset(
            shard_files_for_pipeline(files, count, index), batch, index
        ),
        global_batch_size=global_batch_size,
    )


def validation_batch_size(num_examples: int, batch_size: int, num_replicas: int) -> int:
    """A global validation batch whose last, partial batch still gives every replica examples.

    TensorFlow splits each global batch into per-replica batches of ``batch / replicas`` in
    order, so a short last batch can leave a replica with none, which convolutions on an empty
    batch do not survive. Returns `batch_size` when that cannot happen (one replica, or a
    remainder that reaches the last replica), else the smallest multiple of `num_replicas` in
    [batch_size, 2 batch_size] that works, else `num_examples` (one batch).

    Example:

    >>> validation_batch_size(6, 4, 2), validation_batch_size(130, 32, 1), validation_batch_size(7, 4, 2)
    (6, 32, 4)
    """
    if num_replicas <= 1 or num_examples <= 0:
        return batch_size

    def works(batch):
        remainder = num_examples % batch
        return remainder == 0 or remainder > (num_replicas - 1) * (batch // num_replicas)

    start = -(-batch_size // num_replicas) * num_replicas
    for batch in range(start, 2 * start + 1, num_replicas):
        if works(batch):
            return batch
    return num_examples


def replicate_dataset(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Marks a dataset to be read whole by every worker (no auto-sharding): for validation sets.

    Every worker then takes the same number of steps (nothing to pad when a worker runs out
    early) and the averaged metrics equal the single-worker ones.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


def _synchronize_batch_norm(model: keras.Model) -> int:
    """Turns on cross-replica batch statistics in every `BatchNormalization` layer of `model`.

    The layers then normalise with the statistics of the global batch, as on one device, and
    update identical moving statistics on every replica. The setting is for training only: the
    layers still serialise ``synchronized=False``, so saved models load on every backend.

    Returns:
        The number of layers changed.
    """
    changed = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            layer.get_config = _config_without_synchronization(layer.get_config)
            changed += 1
    return changed


def _config_without_synchronization(get_config):
    def config_for_saving():
        return {**get_config(), "synchronized": False}

    return config_for_saving


def prepare_for_fit(model: keras.Model, strategy: tf.distribute.Strategy) -> keras.Model:
    """Makes `model.fit` under `strategy` train as one device would on the global batch.

    With several replicas: batch normalisation uses the global batch's statistics (synchronised
    across replicas, `keras.layers.BatchNormalization(synchronized=True)`), so a step on N
    replicas equals a step on one device and every worker keeps the same moving statistics;
    saved models keep the plain (unsynchronised) layer configuration.

    With several workers it also works around two Keras 3 bugs of `fit` under
    `MultiWorkerMirroredStrategy` (keras-team/keras#20585, open as of Keras 3.15). Before the
    first epoch, Keras averages one batch across replicas with `Strategy.reduce` only to learn
    the input shapes, which fails on an ``(x, y)`` batch ("Attempt to convert a value
    (PerReplica ...) to a Tensor"); shapes are all that is needed, so this worker's own part of
    the batch is used instead. After every step, Keras averages the logged values with
    ``Strategy.reduce("MEAN", value, axis=0)``, which fails on their scalars; so `train_step`
    and `test_step` return them with a leading axis of length 1, which that reduce averages
    across the workers back to scalars.

    Args:
        model: a compiled Keras model created under `strategy.scope()`.
        strategy: the training strategy.

    Returns:
        `model`, changed in place (unchanged on a single device).
    """
    if is_distributed(strategy):
        _synchronize_batch_norm(model)
    if worker_role(strategy).num_workers < 2:
        return model

    def symbolic_build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0]
                    if isinstance(value, tf.distribute.DistributedValues)
                    else value,
                    next(batches),
                )
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def with_leading_axis(step):
        def step_with_leading_axis(data):
            return tf.nest.map_structure(lambda value: tf.reshape(value, [1]), step(data))

        return step_with_leading_axis

    model._maybe_symbolic_build = symbolic_build_from_local_batch
    model.train_step = with_leading_axis(model.train_step)
    model.test_step = with_leading_axis(model.test_step)
    return model


def _check_same_epoch(strategy: tf.distribute.Strategy, epoch: int) -> None:
    """Stops every worker when they are about to start from different epochs.

    The epochs are all equal exactly when N x sum(e^2) == (sum e)^2 over the N replicas; both
    sums are all-reduced, so every worker reaches the same verdict.
    """
    value = tf.constant([float(epoch), float(epoch) ** 2], tf.float64)
    sums = strategy.reduce("SUM", strategy.run(lambda: tf.identity(value)), axis=None).numpy()
    replicas = strategy.num_replicas_in_sync
    if replicas * sums[1] != sums[0] ** 2:
        raise StrategyError(
            f"The workers restored different epochs from their backups (this one: epoch "
            f"{epoch}; mean over the replicas: {sums[0] / replicas:g}). Resuming a multi-worker "
            "run needs its --out folder on a filesystem every worker reads; give every worker "
            "the same folder, or delete the backup folder to start over."
        )


class WorkerBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` for several workers: all restore, the chief alone saves.

    Every worker reads the backup at the start of training (so all resume at the same epoch with
    the same weights; the folder must be readable by every worker), but only the chief writes
    or deletes it. With several workers they then check, together, that they restored the same
    epoch: workers that did not (a backup folder not shared between the machines) would wait
    for each other forever, so all of them stop with a `StrategyError` instead.

    Args:
        backup_dir: the backup folder.
        chief: whether this process is the chief (`is_chief`).
        **kwargs: passed to `keras.callbacks.BackupAndRestore`.

    Example:

    ```python
    WorkerBackupAndRestore("runs/distill/backup", chief=distribute.is_chief(strategy))
    ```
    """

    def __init__(self, backup_dir, *, chief: bool = True, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.chief = bool(chief)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        strategy = self.model.distribute_strategy
        if worker_role(strategy).num_workers > 1:
            _check_same_epoch(strategy, int(getattr(self.model, "_initial_epoch", None) or 0))

    def on_epoch_end(self, epoch, logs=None):
        if self.chief:
            super().on_epoch_end(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.chief:
            super().on_train_batch_end(batch, logs)

    def on_train_end(self, logs=None):
        if self.chief:
            super().on_train_end(logs)


def weights_fingerprint(model: keras.Model) -> str:
    """SHA-256 of a model's weights (float32 bytes, in weight order): workers that trained in
    lock-step print the same digest.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
    >>> weights_fingerprint(model)[:12]
    '5f2fa7795ceb'
    """
    digest = hashlib.sha256()
    for weight in model.weights:
        value = keras.ops.convert_to_numpy(weight.value)
        digest.update(np.ascontiguousarray(value, dtype=np.float32).tobytes())
    return digest.hexdigest()


def loopback_tf_configs(num_workers: int) -> list[str]:
    """``TF_CONFIG`` values for a cluster of `num_workers` processes on this machine (loopback).

    The ports are free when chosen (another program may still take one before the workers bind).

    Example:

    >>> configs = loopback_tf_configs(2)
    >>> json.loads(configs[1])["task"]
    {'type': 'worker', 'index': 1}
    """
    sockets = [socket.socket() for _ in range(num_workers)]
    try:
        for server in sockets:
            server.bind(("127.0.0.1", 0))
        hosts = [f"127.0.0.1:{server.getsockname()[1]}" for server in sockets]
    finally:
        for server in sockets:
            server.close()
    return [
        json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})
        for index in range(num_workers)
    ]


def run_loopback_workers(
    argv_of_worker: Callable[[int], list[str]],
    num_workers: int = 2,
    *,
    env: dict | None = None,
    timeout: float | None = None,
) -> list[tuple[int, str]]:
    """Runs `num_workers` processes as a multi-worker cluster on this machine and waits for them.

    A way to try ``--strategy multi_worker`` (and to test and benchmark it) without machines:
    each process gets its own ``TF_CONFIG`` (`loopback_tf_configs`) and no GPU.

    Args:
        argv_of_worker: the command line of worker ``i`` (e.g. ``[sys.executable, "-m",
            "kerasemo.experiments.distill", "--strategy", "multi_worker", ...]``).
        num_workers: processes in the cluster.
        env: the environment of every worker (default: this process's).
        timeout: seconds to wait for each worker; on expiry every worker is killed and
            `subprocess.TimeoutExpired` is raised.

    Returns:
        ``(exit status, output)`` of each worker, in worker order (stdout and stderr together).

    Example:

    ```python
    results = run_loopback_workers(lambda i: [sys.executable, "-m", "kerasemo.experiments.distill",
                                              "--strategy", "multi_worker", "--data", "shards",
                                              "--out", f"runs/worker{i}"])
    ```
    """
    base = dict(os.environ if env is None else env, CUDA_VISIBLE_DEVICES="")
    processes = [
        subprocess.Popen(
            argv_of_worker(index),
            env={**base, "TF_CONFIG": tf_config},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index, tf_config in enumerate(loopback_tf_configs(num_workers))
    ]
    try:
        outputs = [process.communicate(timeout=timeout)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
    return [(process.returncode, output) for process, output in zip(processes, outputs)]
