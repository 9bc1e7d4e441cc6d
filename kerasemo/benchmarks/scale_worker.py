"""One training process of the ``scale`` benchmark: times the paper-size student's distillation step.

`kerasemo.benchmarks.scale` starts it once alone (every core) and twice as a loopback
`MultiWorkerMirroredStrategy` cluster (``TF_CONFIG`` set by `kerasemo.distribute`), on the same
random shards and global batch (`kerasemo.benchmarks.scale.GLOBAL_BATCH`). It trains
`WARMUP_STEPS` + `TIMED_STEPS` steps and prints one line,
``RESULT {"samples_per_second": ..., "replicas": ..., "parameters": ...}``, timed from the end
of the warm-up steps.

Example:

    python -m kerasemo.benchmarks.scale_worker SHARDS --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

from kerasemo.benchmarks.scale import GLOBAL_BATCH

WARMUP_STEPS = 2
TIMED_STEPS = 6


def run_worker(data: str | os.PathLike, threads: int) -> dict:
    """Trains the paper-size student on the ``train`` shards in `data`; returns its timing.

    Args:
        data: a folder of shards (`kerasemo.benchmarks.random_shards.write_random_shards`).
        threads: TensorFlow's intra- and inter-op threads (0: TensorFlow's default).

    Returns:
        ``{"samples_per_second", "replicas", "parameters"}``.

    Example:

    >>> run_worker("runs/random-shards", threads=2)  # doctest: +SKIP
    """
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from kerasemo import distribute

    strategy = distribute.make_strategy("multi_worker" if os.environ.get("TF_CONFIG") else "default")
    import keras

    from kerasemo.config import apply_overrides, load_config
    from kerasemo.data import pipeline
    from kerasemo.training import build_distiller

    experiment = apply_overrides(load_config("paper"), [f"distill.batch_size={GLOBAL_BATCH}"])
    keras.utils.set_random_seed(0)
    steps = WARMUP_STEPS + TIMED_STEPS
    with strategy.scope():
        distiller = distribute.prepare_for_fit(build_distiller(experiment, steps), strategy)
    files = pipeline.shard_files(data, "train")
    train = distribute.distribute_training_dataset(
        strategy,
        files,
        lambda own, batch, index: pipeline.training_dataset(own, batch_size=batch, seed=index, repeat=True),
        global_batch_size=GLOBAL_BATCH,
    )
    times = []

    class StepTimes(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    distiller.fit(train, epochs=1, steps_per_epoch=steps, callbacks=[StepTimes()], verbose=0)
    seconds = times[-1] - times[WARMUP_STEPS - 1]
    return {
        "samples_per_second": TIMED_STEPS * GLOBAL_BATCH / seconds,
        "replicas": strategy.num_replicas_in_sync,
        "parameters": distiller.student.count_params(),
    }


def main(argv: list[str] | None = None) -> int:
    """Runs `run_worker` on the command line's shards and prints its ``RESULT`` line."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    parser = argparse.ArgumentParser(
        prog="python -m kerasemo.benchmarks.scale_worker",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("data", type=pathlib.Path, help="folder of train-*.tfrecord shards")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: default)")
    args = parser.parse_args(argv)
    print("RESULT " + json.dumps(run_worker(args.data, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
