"""Face TFRecord shards (FERPlus, written once and reused) and the teacher's tf.data pipeline.

`prepare_face_records` reads and cleans a FERPlus folder (`kerasemo.data.ferplus`) once and
writes the kept faces as sharded TFRecords under
``<cache_dir>/ferplus-<key>/<split>-00000-of-00004.tfrecord``, where ``<key>`` hashes the two
source files' bytes, the cleaning version and the record format: a later run with the same
sources finds the folder, logs "skipping" and reuses it. Shards are written to a temporary folder
that is renamed into place only when complete, so an interrupted run leaves no partial cache.

Splits: ``train`` = Training, ``val`` = PublicTest, ``test`` = PrivateTest.

One example per face (feature keys are the `FEATURE_*` constants):

| key              | type        | value                                              |
|------------------|-------------|----------------------------------------------------|
| `image/png`      | bytes       | PNG-encoded 48 x 48 grey face                      |
| `votes`          | float x 8   | emotion votes after outlier removal (CLASSES order)|
| `usage`          | bytes       | Training / PublicTest / PrivateTest                |
| `row_index`      | int64       | 0-based data row in the FERPlus CSV files          |
| `fer2013_label`  | int64       | original FER2013 label as a class index            |

`make_face_dataset` turns a split into batches of `(images, targets)`: parse, PNG decode, cache
(decoded faces are small), shuffle (training), batch, then per batch the authors' augmentation at
the source resolution (training; `kerasemo.vision.augment_faces`, with stateless random values
drawn from a per-batch seed that is reproducible for a given `seed` and different every epoch),
bilinear resize to the teacher's input size and grey -> 3 channels. Values stay 0-255: the
teacher subtracts the mean itself. Targets follow the label mode (`kerasemo.data.ferplus`).

Example:

```python
from kerasemo.config import load_config
from kerasemo.data.face_records import make_face_dataset, prepare_face_records

records = prepare_face_records("data/ferplus", "tfrecords")
train = make_face_dataset(records, "train", load_config("demo").teacher, training=True, seed=0)
images, targets = next(iter(train))      # (64, 64, 64, 3) float32 0-255, (64, 8)
```
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import pathlib
import shutil
import uuid

import numpy as np

from kerasemo import emotions
from kerasemo.data import ferplus
from kerasemo.progress import progress_bar

logger = logging.getLogger(__name__)

FEATURE_IMAGE = "image/png"
FEATURE_VOTES = "votes"
FEATURE_USAGE = "usage"
FEATURE_ROW = "row_index"
FEATURE_FER2013_LABEL = "fer2013_label"

# Split name in file names <- FERPlus Usage.
SPLIT_OF_USAGE: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLITS: tuple[str, ...] = tuple(SPLIT_OF_USAGE.values())

# Bump when the example format changes: it is part of the cache key.
RECORDS_VERSION = 1
META_FILE = "meta.json"
DEFAULT_EXAMPLES_PER_SHARD = 8000


@dataclasses.dataclass(frozen=True)
class FaceRecordSet:
    """A folder of face shards and its `meta.json` (counts, shards, cleaning report).

    Attributes:
        directory: the folder.
        meta: the parsed `meta.json`: `splits` (`{split: {"examples": n, "shards": [names]}}`),
            `cleaning` (a `CleaningReport` dict), `source` (file names), `key`.
    """

    directory: pathlib.Path
    meta: dict

    @classmethod
    def open(cls, directory: str | os.PathLike) -> FaceRecordSet:
        """Opens a folder written by `write_face_records`.

        Raises:
            FileNotFoundError: if it holds no `meta.json`.
        """
        directory = pathlib.Path(os.fspath(directory))
        path = directory / META_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{directory} is not a face record folder (no {META_FILE}); create one with "
                "prepare_face_records(ferplus_dir, cache_dir)."
            )
        return cls(directory, json.loads(path.read_text(encoding="utf-8")))

    def _check_split(self, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(
                f"split must be one of {SPLITS} (train = Training, val = PublicTest, test = "
                f"PrivateTest); received {split!r}."
            )

    def files(self, split: str) -> list[str]:
        """Paths of a split's shards, in order."""
        self._check_split(split)
        return [str(self.directory / name) for name in self.meta["splits"][split]["shards"]]

    def num_examples(self, split: str) -> int:
        """Number of faces in a split."""
        self._check_split(split)
        return int(self.meta["splits"][split]["examples"])

    @property
    def report(self) -> ferplus.CleaningReport:
        """The cleaning report of the source files."""
        return ferplus.CleaningReport.from_dict(self.meta["cleaning"])


def source_key(ferplus_dir: str | os.PathLike) -> str:
    """Cache key of a FERPlus folder: hash of both CSVs' bytes, cleaning and record versions."""
    ferplus_dir = pathlib.Path(os.fspath(ferplus_dir))
    digest = hashlib.sha256()
    digest.update(f"{ferplus.CLEANING_VERSION}|records-{RECORDS_VERSION}".encode())
    for name in (ferplus.FER2013_CSV, ferplus.FERPLUS_CSV):
        path = ferplus_dir / name
        if not path.exists():
            raise FileNotFoundError(
                f"{path} does not exist. A FERPlus folder holds {ferplus.FER2013_CSV} and "
                f"{ferplus.FERPLUS_CSV}."
            )
        digest.update(name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _example(image_png: bytes, votes, usage: str, row: int, fer_label: int) -> bytes:
    import tensorflow as tf

    feature = {
        FEATURE_IMAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_png])),
        FEATURE_VOTES: tf.train.Feature(
            float_list=tf.train.FloatList(value=[float(v) for v in votes])
        ),
        FEATURE_USAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[usage.encode()])),
        FEATURE_ROW: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row)])),
        FEATURE_FER2013_LABEL: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[int(fer_label)])
        ),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_face_records(
    data: ferplus.FERPlusData,
    directory: str | os.PathLike,
    *,
    examples_per_shard: int = DEFAULT_EXAMPLES_PER_SHARD,
    key: str = "",
    source: str = "",
) -> FaceRecordSet:
    """Writes cleaned FERPlus faces as TFRecord shards (temporary folder, then rename).

    Args:
        data: the output of `read_ferplus`.
        directory: the final folder; it must not exist yet.
        examples_per_shard: faces per shard (each split has at least one shard).
        key: cache key recorded in `meta.json`.
        source: where the data came from, recorded in `meta.json`.

    Returns:
        The `FaceRecordSet`. If another process completed the same folder first, that one.
    """
    import tensorflow as tf

    directory = pathlib.Path(os.fspath(directory))
    directory.parent.mkdir(parents=True, exist_ok=True)
    temporary = directory.with_name(f"{directory.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    temporary.mkdir()
    try:
        splits = {}
        progress = progress_bar(total=len(data), desc="writing face records", unit="face")
        for usage, split in SPLIT_OF_USAGE.items():
            part = data.subset(usage)
            num_shards = max(1, math.ceil(len(part) / examples_per_shard))
            names = [f"{split}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]
            bounds = np.linspace(0, len(part), num_shards + 1).astype(int)
            for shard, name in enumerate(names):
                with tf.io.TFRecordWriter(str(temporary / name)) as writer:
                    for i in range(bounds[shard], bounds[shard + 1]):
                        png = tf.io.encode_png(part.images[i][:, :, None]).numpy()
                        writer.write(
                            _example(
                                png,
                                part.votes[i],
                                usage,
                                part.row_index[i],
                                part.fer2013_label[i],
                            )
                        )
                        progress.update(1)
            splits[split] = {"usage": usage, "examples": len(part), "shards": names}
        progress.close()
        meta = {
            "format": f"kerasemo face records v{RECORDS_VERSION}",
            "key": key,
            "source": source,
            "cleaning_version": ferplus.CLEANING_VERSION,
            "image_side": ferplus.IMAGE_SIDE,
            "classes": list(emotions.CLASSES),
            "splits": splits,
            "cleaning": data.report.as_dict(),
        }
        (temporary / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        try:
            os.rename(temporary, directory)
        except OSError:
            if (directory / META_FILE).exists():
                logger.info("%s was completed by another process; using it.", directory)
                shutil.rmtree(temporary, ignore_errors=True)
            else:
                raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    logger.info("wrote %d face records to %s", len(data), directory)
    return FaceRecordSet.open(directory)


def prepare_face_records(
    ferplus_dir: str | os.PathLike,
    cache_dir: str | os.PathLike,
    *,
    examples_per_shard: int = DEFAULT_EXAMPLES_PER_SHARD,
) -> FaceRecordSet:
    """Returns the face records of a FERPlus folder, writing them only if not cached yet.

    Args:
        ferplus_dir: folder with `fer2013.csv` and `fer2013new.csv`.
        cache_dir: where record folders live (``<cache_dir>/ferplus-<key>/``).
        examples_per_shard: faces per shard when writing.

    Returns:
        The `FaceRecordSet`.

    Raises:
        FileNotFoundError, kerasemo.data.ferplus.FERPlusError: see `read_ferplus`.
    """
    key = source_key(ferplus_dir)
    directory = pathlib.Path(os.fspath(cache_dir)) / f"ferplus-{key}"
    if (directory / META_FILE).exists():
        logger.info(
            "face records for %s already exist at %s; skipping (delete the folder to rebuild)",
            ferplus_dir,
            directory,
        )
        return FaceRecordSet.open(directory)
    logger.info("reading FERPlus from %s ...", ferplus_dir)
    data = ferplus.read_ferplus(ferplus_dir)
    return write_face_records(
        data,
        directory,
        examples_per_shard=examples_per_shard,
        key=key,
        source=str(pathlib.Path(os.fspath(ferplus_dir)).name),
    )


# ---------------------------------------------------------------------------------------------
# Reading.


def parse_face_example(serialized):
    """Parses one serialized example into a dict of tensors (image decoded to uint8 48x48x1)."""
    import tensorflow as tf

    features = tf.io.parse_single_example(
        serialized,
        {
            FEATURE_IMAGE: tf.io.FixedLenFeature([], tf.string),
            FEATURE_VOTES: tf.io.FixedLenFeature([len(emotions.CLASSES)], tf.float32),
            FEATURE_USAGE: tf.io.FixedLenFeature([], tf.string),
            FEATURE_ROW: tf.io.FixedLenFeature([], tf.int64),
            FEATURE_FER2013_LABEL: tf.io.FixedLenFeature([], tf.int64),
        },
    )
    image = tf.io.decode_png(features[FEATURE_IMAGE], channels=1)
    image = tf.ensure_shape(image, [ferplus.IMAGE_SIDE, ferplus.IMAGE_SIDE, 1])
    return {
        "image": image,
        "votes": features[FEATURE_VOTES],
        "usage": features[FEATURE_USAGE],
        "row_index": features[FEATURE_ROW],
        "fer2013_label": features[FEATURE_FER2013_LABEL],
    }


def _records(record_set: FaceRecordSet | str | os.PathLike) -> FaceRecordSet:
    if isinstance(record_set, FaceRecordSet):
        return record_set
    return FaceRecordSet.open(record_set)


def load_face_arrays(record_set, split: str) -> dict[str, np.ndarray]:
    """Reads a whole split into NumPy arrays (for evaluation and baselines).

    Returns:
        `{"images": [N, 48, 48] uint8, "votes": [N, 8] float32, "row_index": [N] int64,
        "fer2013_label": [N] int64}`.
    """
    import tensorflow as tf

    record_set = _records(record_set)
    dataset = tf.data.TFRecordDataset(record_set.files(split)).map(
        parse_face_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    images, votes, rows, labels = [], [], [], []
    for batch in dataset.batch(1024):
        images.append(batch["image"].numpy()[..., 0])
        votes.append(batch["votes"].numpy())
        rows.append(batch["row_index"].numpy())
        labels.append(batch["fer2013_label"].numpy())
    side = ferplus.IMAGE_SIDE
    return {
        "images": np.concatenate(images) if images else np.zeros((0, side, side), np.uint8),
        "votes": np.concatenate(votes) if votes else np.zeros((0, 8), np.float32),
        "row_index": np.concatenate(rows) if rows else np.zeros((0,), np.int64),
        "fer2013_label": np.concatenate(labels) if labels else np.zeros((0,), np.int64),
    }


def _majority_one_hot(votes):
    import tensorflow as tf

    # Votes are counts (differences >= 1): a tiny decreasing offset breaks ties towards the
    # first class deterministically, as numpy.argmax does.
    offsets = tf.range(len(emotions.CLASSES), dtype=votes.dtype) * 1e-3
    return tf.one_hot(tf.argmax(votes - offsets, axis=-1), len(emotions.CLASSES))


def batch_targets(votes, label_mode: str, seed=None):
    """`[B, 8]` votes -> `[B, 8]` float32 targets for a label mode (TensorFlow ops).

    Args:
        votes: `[B, 8]` cleaned vote counts.
        label_mode: one of `kerasemo.data.ferplus.LABEL_MODES`.
        seed: `[2]` int seed for the "probability" mode's stateless sampling.
    """
    import tensorflow as tf

    votes = tf.cast(votes, tf.float32)
    distribution = votes / tf.reduce_sum(votes, axis=-1, keepdims=True)
    if label_mode == "distribution":
        return distribution
    if label_mode == "majority":
        return _majority_one_hot(votes)
    if label_mode == "probability":
        if seed is None:
            raise ValueError("label_mode='probability' needs a seed for its sampling.")
        classes = tf.random.stateless_categorical(tf.math.log(distribution), 1, seed=seed)
        return tf.one_hot(classes[:, 0], len(emotions.CLASSES))
    raise ValueError(
        f"label_mode must be one of {ferplus.LABEL_MODES}; received {label_mode!r}."
    )


def make_face_dataset(
    record_set,
    split: str,
    teacher_config,
    *,
    training: bool,
    seed: int = 0,
    batch_size: int | None = None,
    label_mode: str | None = None,
    drop_remainder: bool = False,
    num_shards: int = 1,
    shard_index: int = 0,
    repeat: bool = False,
):
    """Batches of `(images, targets)` for training or evaluating the teacher.

    Args:
        record_set: a `FaceRecordSet` or its folder.
        split: "train", "val" or "test".
        teacher_config: a `TeacherConfig` (`input_size`, `batch_size`, `label_mode` and the
            augmentation settings).
        training: shuffle and augment (True) or keep order, no augmentation (False).
        seed: seed of the shuffle, the augmentation and the "probability" sampling. The same
            seed gives the same sequence of batches; each epoch (new iteration) differs.
        batch_size: overrides `teacher_config.batch_size`.
        label_mode: overrides `teacher_config.label_mode`.
        drop_remainder: drop the last partial batch.
        num_shards: split the faces into this many parts (one per training worker) ...
        shard_index: ... and keep this one (faces ``shard_index``, ``shard_index + num_shards``...).
        repeat: repeat forever (use with ``steps_per_epoch``; every worker then takes the same
            number of steps whatever its part's size).

    Returns:
        A `tf.data.Dataset` of `(images [B, S, S, 3] float32 0-255 RGB, targets [B, 8])`.
    """
    import tensorflow as tf

    from kerasemo.vision import augment_faces, augmentation_settings, preprocess_faces
    from kerasemo.vision.augment import NUM_UNIFORMS

    record_set = _records(record_set)
    label_mode = label_mode or teacher_config.label_mode
    if label_mode not in ferplus.LABEL_MODES:
        raise ValueError(
            f"label_mode must be one of {ferplus.LABEL_MODES}; received {label_mode!r}."
        )
    batch_size = batch_size or teacher_config.batch_size
    size = teacher_config.input_size
    files = record_set.files(split)
    count = record_set.num_examples(split)
    if count == 0:
        raise ValueError(
            f"Split {split!r} of {record_set.directory} holds no faces; the FERPlus files have "
            "no kept rows with this Usage."
        )

    if not 0 <= shard_index < num_shards:
        raise ValueError(
            f"shard_index must be in [0, num_shards={num_shards}); received {shard_index}."
        )
    count = len(range(shard_index, count, num_shards))
    dataset = tf.data.TFRecordDataset(files)
    if num_shards > 1:
        dataset = dataset.shard(num_shards, shard_index)
    dataset = dataset.map(
        lambda s: {k: v for k, v in parse_face_example(s).items() if k in ("image", "votes")},
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def finish(images, targets):
        return preprocess_faces(images, size), targets

    if training:
        # One stateless seed pair per batch; a new sequence each epoch, reproducible per seed.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def train_batch(batch, batch_seed):
            images = tf.cast(batch["image"], tf.float32)
            uniforms = tf.random.stateless_uniform(
                [tf.shape(images)[0], NUM_UNIFORMS], seed=batch_seed
            )
            images = augment_faces(images, uniforms, **augmentation_settings(teacher_config))
            targets = batch_targets(batch["votes"], label_mode, seed=batch_seed + 1)
            return finish(images, targets)

        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            train_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    else:
        dataset = dataset.map(
            lambda batch: finish(
                tf.cast(batch["image"], tf.float32), batch_targets(batch["votes"], label_mode)
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    if not repeat:
        num_batches = count // batch_size if drop_remainder else -(-count // batch_size)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    return dataset.prefetch(tf.data.AUTOTUNE)
