"""Builds EmoVoxCeleb shards with Apache Beam: the single-machine build, spread over workers.

The result is the one `kerasemo.data.emovoxceleb.build` gives: the same ``plan.json`` (so the
same shard file names and track-to-shard assignment), examples written by
`kerasemo.data.schema.make_example` in the plan's order, the same sidecars, and the same
finalisation (manifest, frame-level export, figure, summary). The two engines can finish each
other's builds: finished shards are skipped, whichever wrote them.

The pipeline, one element per planned track of the shard files still to build::

    Create(shard names)
    | FlatMap(read the shard's work list)       (shard, position, track, split)
    | Reshuffle                                  spread the tracks over the workers
    | ParDo(prepare)                             decode audio and frames, crop faces, front-end
    |--> face crops: RunInference(KerasTeacherModelHandler)   the crops of several tracks per
    |                                                         teacher call, split back per track
    |--> skipped tracks; tracks labelled from a logits file
    | ParDo(serialize)                           schema.make_example + the sidecar entry
    | GroupByKey(shard name)
    | ParDo(write shard)                         plan order, temporary file + rename, sidecar

The launching process takes the scanned tracks (`kerasemo.data.voxceleb.scan`), plans the
build and writes ``plan.json`` (`emovoxceleb.start_build`), writes each shard's work list (its
tracks, in ``beam_work/``, removed after a successful run; the pipeline itself carries only
the shard names, as tracks given to ``beam.Create`` would be embedded in the job's graph, too
large for a runner to accept at VoxCeleb scale), runs the pipeline, and finalises
(`emovoxceleb.finish_build`). The teacher is loaded once in the launching process, to fail
early on a bad file, and once per worker process by `KerasTeacherModelHandler`.

**Paths.** Workers read the corpus, the teacher and the work lists, and write the shards, with
ordinary file operations: on a multi-machine runner the corpus, the teacher file and the output
folder must be at the same paths on every worker (a shared mount: NFS, Filestore, a GCS or S3
FUSE mount). The DirectRunner and a single-host Flink or Spark cluster need nothing special.

**Workers need kerasemo.** Remote workers import this module: give them the package
(``--setup_file ./pyproject.toml`` or ``--extra_package dist/kerasemo-*.whl`` on Dataflow, with
``--requirements_file``; or a worker image with ``pip install "kerasemo[beam]"``:
``--sdk_container_image`` on Dataflow, ``--environment_type DOCKER --environment_config IMAGE``
on Flink and Spark).

Apache Beam is an optional dependency: ``pip install "kerasemo[beam]"``.

Example:

>>> from kerasemo.data import beam_build, voxceleb
>>> tracks, report = voxceleb.scan("corpus/voxceleb", "voxceleb1")  # doctest: +SKIP
>>> result = beam_build.build(tracks, report, "tfrecords/demo", config=config,
...                           teacher="teacher.keras",
...                           pipeline_options=["--direct_num_workers", "2",
...                                             "--direct_running_mode", "multi_processing"]
...                           )  # doctest: +SKIP
>>> result.finalized, result.tracks_written  # doctest: +SKIP
(True, 120)
"""

# Over 600 lines on purpose: the Beam pipeline and its RunInference handlers share transforms.

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import pickle
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence

import numpy as np

from kerasemo.checks import check_positive_int
from kerasemo.config import ExperimentConfig
from kerasemo.data import emovoxceleb
from kerasemo.data.voxceleb import ScanReport, Track

try:
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, RunInference
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
except ImportError as err:  # the beam extra is not installed
    raise ImportError(
        f"kerasemo.data.beam_build needs Apache Beam, which is not installed ({err}). "
        'Install the optional extra: pip install "kerasemo[beam]"'
    ) from err

logger = logging.getLogger(__name__)

METRICS_NAMESPACE = "kerasemo_emovoxceleb"
"""Namespace of the pipeline's Beam counters (tracks, shards, busy milliseconds per stage)."""
WORK_DIR = "beam_work"
"""Subfolder of the output folder holding each shard's work list while the pipeline runs."""
_TO_LABEL = "to_label"
_SKIPPED = "skipped"


# --------------------------------------------------------------------------------------------
# The teacher as a RunInference model handler.


def _num_crops(element) -> int:
    """Batch weight of a RunInference element: its number of face crops (at least 1).

    Elements are one track's crops or, under `KeyedModelHandler` (which batches with the
    wrapped handler's settings), ``(key, crops)`` pairs; a crop is a 3-D array, never a key.
    """
    if (
        isinstance(element, tuple)
        and len(element) == 2
        and not (isinstance(element[0], np.ndarray) and element[0].ndim == 3)
    ):
        element = element[1]
    return max(1, len(element))


class KerasTeacherModelHandler(ModelHandler):
    """Runs a ``.keras`` (or ``.weights.h5``) face teacher over the face crops of tracks.

    An example is one track's face crops (a sequence of uint8 ``[H, W, 3]`` RGB arrays of any
    sizes); its prediction is float32 ``[len(crops), 8]`` logits. RunInference batches tracks
    up to `batch_size` crops in all (a track with more crops forms a batch of its own); the
    handler concatenates a batch's crops, runs the teacher (`TeacherLabeller.predict`, in
    calls of `batch_size` crops) and splits the logits back per track. The model is loaded
    once per worker process (Beam shares it between the threads of a process).

    Only Keras and kerasemo are needed: Beam's TensorFlow handler is not used (it depends on
    tensorflow-hub, which installs a second TensorFlow).

    Args:
        teacher_path: the teacher file, readable at this path on every worker.
        config: the experiment configuration (``config.teacher`` describes the model a
            ``.weights.h5`` file fits).
        batch_size: face crops per teacher call and per RunInference batch.

    Example:

    >>> handler = KerasTeacherModelHandler("teacher.keras", config, batch_size=64)  # doctest: +SKIP
    >>> logits = track_crops | RunInference(handler)  # doctest: +SKIP
    >>> keyed = pairs | RunInference(KeyedTeacherModelHandler(handler))  # doctest: +SKIP
    """

    def __init__(
        self, teacher_path: str | os.PathLike, config: ExperimentConfig, *, batch_size: int = 64
    ):
        check_positive_int(batch_size, "batch_size")
        super().__init__(
            min_batch_size=batch_size, max_batch_size=batch_size, element_size_fn=_num_crops
        )
        self.teacher_path = os.fspath(teacher_path)
        self.config = config
        self.batch_size = batch_size

    def load_model(self) -> emovoxceleb.TeacherLabeller:
        """Loads the teacher (`emovoxceleb.load_teacher_labeller`).

        Raises:
            FileNotFoundError: if the file is missing (on this worker).
            kerasemo.models.teacher.TeacherWeightsError: if it does not hold an 8-way teacher.
        """
        logger.info("loading the teacher %s", self.teacher_path)
        return emovoxceleb.load_teacher_labeller(
            self.teacher_path, self.config, batch_size=self.batch_size
        )

    def run_inference(
        self,
        batch: Sequence[Sequence[np.ndarray]],
        model: emovoxceleb.TeacherLabeller,
        inference_args: dict | None = None,
    ) -> list[np.ndarray]:
        """float32 ``[len(crops), 8]`` logits for each track's crops in `batch`, in order."""
        if not batch:
            return []
        counts = [len(crops) for crops in batch]
        start = time.perf_counter()
        logits = model.predict([crop for crops in batch for crop in crops])
        _busy("teacher", time.perf_counter() - start)
        return np.split(logits, np.cumsum(counts)[:-1])

    def get_num_bytes(self, batch: Sequence[Sequence[np.ndarray]]) -> int:
        """Bytes of the batch's crops (Beam's default pickles the whole batch to count)."""
        return sum(int(np.asarray(crop).nbytes) for crops in batch for crop in crops)

    def get_metrics_namespace(self) -> str:
        return "kerasemo_teacher"

    def validate_inference_args(self, inference_args: dict | None) -> None:
        if inference_args:
            raise ValueError(
                f"KerasTeacherModelHandler takes no inference_args; received {inference_args!r}."
            )


class KeyedTeacherModelHandler(KeyedModelHandler):
    """`KerasTeacherModelHandler` for ``(key, crops)`` pairs, giving ``(key, logits)`` pairs.

    Use it instead of Beam's `KeyedModelHandler`, which (Beam 2.77) fails on the empty batch
    that Beam's weighted batching emits when the first track of a bundle has more crops than
    the batch size, and pickles every batch's keys just to count their bytes (here the keys
    are prepared tracks with their audio).

    Args:
        handler: the `KerasTeacherModelHandler`.

    Example:

    >>> teacher = KerasTeacherModelHandler("teacher.keras", config)  # doctest: +SKIP
    >>> handler = KeyedTeacherModelHandler(teacher)  # doctest: +SKIP
    >>> logits = pairs | RunInference(handler)  # (id, crops) -> (id, logits)  # doctest: +SKIP
    """

    def __init__(self, handler: KerasTeacherModelHandler):
        super().__init__(handler)

    def run_inference(self, batch, model, inference_args=None):
        if not batch:
            return []
        return super().run_inference(batch, model, inference_args)

    def get_num_bytes(self, batch) -> int:
        return self._unkeyed.get_num_bytes([example for _, example in batch])


# --------------------------------------------------------------------------------------------
# Elements and DoFns.


@dataclasses.dataclass
class WorkItem:
    """One planned track to build: its shard file, its position there, and what labels it.

    Attributes:
        shard: the shard file's name.
        position: the track's index in the shard's planned order.
        track: the scanned track.
        split: its split.
        labeller: a one-track `emovoxceleb.FileLabeller` (logits from a file), or None (the
            teacher labels the track's face crops).
    """

    shard: str
    position: int
    track: Track
    split: str
    labeller: emovoxceleb.FileLabeller | None = None


@dataclasses.dataclass
class _Pending:
    """A prepared track on its way to its shard (its crops travel separately)."""

    shard: str
    position: int
    prepared: emovoxceleb.PreparedTrack


@dataclasses.dataclass
class _ShardEntry:
    """One planned track as the shard writer receives it: an example or a skip."""

    position: int
    example: bytes | None = None
    record: emovoxceleb.TrackRecord | None = None
    skip: tuple[str, str, str] | None = None


def _counter(name: str):
    return beam.metrics.Metrics.counter(METRICS_NAMESPACE, name)


def _busy(stage: str, seconds: float) -> None:
    _counter(f"busy_ms_{stage}").inc(int(round(seconds * 1000)))


# The functions Beam calls carry no annotations: Beam would read them as type hints.
def _read_work_list(shard, work_dir):
    """The `WorkItem` s of one shard (``<work_dir>/<shard>.pkl``)."""
    with open(os.path.join(work_dir, shard + ".pkl"), "rb") as handle:
        return pickle.load(handle)


class _TimedDoFn(beam.DoFn):
    """A DoFn whose `emovoxceleb.StageTimer` busy times are reported as Beam counters."""

    def setup(self):
        self.timer = emovoxceleb.StageTimer()
        self._reported = dict(self.timer.seconds)

    def finish_bundle(self):
        for stage, seconds in self.timer.seconds.items():
            if seconds > self._reported[stage]:
                _busy(stage, seconds - self._reported[stage])
                self._reported[stage] = seconds


class _PrepareTrack(_TimedDoFn):
    """Decodes a track's audio (and front-end) and its face crops (`emovoxceleb.TrackPreparer`).

    Main output: `_Pending` tracks whose logits came from a file, as ``(pending, None)``;
    `_TO_LABEL`: ``(pending, crops)`` for the teacher; `_SKIPPED`: ``(shard, entry)``.
    """

    def __init__(self, config: ExperimentConfig, options: emovoxceleb.BuildOptions):
        self.config = config
        self.options = options

    def setup(self):
        super().setup()
        self.frontend = emovoxceleb.FrontEnd() if self.options.audio == "spectrogram" else None

    def process(self, item):
        preparer = emovoxceleb.TrackPreparer(
            self.config, self.options, item.labeller, self.timer, self.frontend
        )
        prepared = preparer((item.track, item.split))
        if prepared.error is not None:
            logger.warning(
                "skipping %s: %s (%s)", item.track.track_id, prepared.error, prepared.detail
            )
            _counter("tracks_skipped").inc()
            skip = (item.track.track_id, prepared.error, prepared.detail)
            yield beam.pvalue.TaggedOutput(
                _SKIPPED, (item.shard, _ShardEntry(item.position, skip=skip))
            )
            return
        pending = _Pending(item.shard, item.position, prepared)
        if prepared.crops is None:  # logits from the file
            yield pending, None
            return
        crops, prepared.crops = prepared.crops, None
        yield beam.pvalue.TaggedOutput(_TO_LABEL, (pending, crops))


class _SerializeTrack(_TimedDoFn):
    """``(pending, logits or None)`` -> ``(shard, entry)`` with the serialized example."""

    def __init__(self, root: str):
        self.root = root

    def process(self, element):
        pending, logits = element
        prepared = pending.prepared
        if logits is not None:
            prepared.logits = logits
        with self.timer.time("write"):
            entry = _ShardEntry(
                pending.position,
                example=emovoxceleb.serialize_track(prepared),
                record=emovoxceleb.track_record(prepared, self.root),
            )
        yield pending.shard, entry


class _WriteShard(_TimedDoFn):
    """``(shard name, entries)`` -> the shard file in plan order, its sidecar, then its name.

    Each attempt writes its own temporary file, so a retried or speculative duplicate of the
    work cannot interleave with another; the rename makes the finished shard appear whole.
    """

    def __init__(self, out_dir: str):
        self.out_dir = out_dir

    def process(self, element):
        name, entries = element
        entries = sorted(entries, key=lambda e: e.position)
        shard = emovoxceleb.ShardFile(
            pathlib.Path(self.out_dir),
            name,
            tmp_name=f"{name}.{uuid.uuid4().hex[:12]}{emovoxceleb.TMP_SUFFIX}",
        )
        try:
            with self.timer.time("write"):
                shard.open()
                for entry in entries:
                    if entry.skip is not None:
                        shard.skip(*entry.skip)
                    else:
                        shard.add(entry.example, entry.record)
                shard.finish()
        except BaseException:
            if shard.writer is not None:
                shard.writer.close()
            shard.tmp.unlink(missing_ok=True)
            raise
        _counter("shards_written").inc()
        _counter("tracks_written").inc(len(shard.rows))
        yield name


# --------------------------------------------------------------------------------------------
# The pipeline and the build.


def build_pipeline(
    pipeline: beam.Pipeline,
    shard_names: Sequence[str],
    *,
    work_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    root: str,
    config: ExperimentConfig,
    options: emovoxceleb.BuildOptions,
    teacher_path: str | os.PathLike | None,
):
    """Adds the build's transforms to `pipeline`; returns the PCollection of written shard names.

    Args:
        pipeline: the `beam.Pipeline` to extend.
        shard_names: the shard files to build (each has a work list in `work_dir`).
        work_dir: the folder of the work lists (``<shard name>.pkl``: a list of `WorkItem`).
        out_dir: the output folder.
        root: the corpus root (audio paths are kept relative to it).
        config: the experiment configuration.
        options: the `emovoxceleb.BuildOptions`.
        teacher_path: the teacher file, or None when every track's labels come from a file.

    Returns:
        The PCollection of the names of the shard files written.
    """
    items = (
        pipeline
        | "ShardNames" >> beam.Create(list(shard_names))
        | "ReadWorkLists" >> beam.FlatMap(_read_work_list, os.fspath(work_dir))
        | "SpreadTracks" >> beam.Reshuffle()
    )
    prepared = items | "Prepare" >> beam.ParDo(_PrepareTrack(config, options)).with_outputs(
        _TO_LABEL, _SKIPPED, main="from_file"
    )
    ready = [prepared.from_file]
    if teacher_path is not None:
        handler = KerasTeacherModelHandler(teacher_path, config, batch_size=options.batch_size)
        labelled = prepared[_TO_LABEL] | "Teacher" >> RunInference(
            KeyedTeacherModelHandler(handler)
        )
        ready.append(labelled)
    serialized = (
        ready
        | "Labelled" >> beam.Flatten()
        | "Serialize" >> beam.ParDo(_SerializeTrack(root))
    )
    return (
        (serialized, prepared[_SKIPPED])
        | "AllTracks" >> beam.Flatten()
        | "ByShard" >> beam.GroupByKey()
        | "WriteShards" >> beam.ParDo(_WriteShard(os.fspath(out_dir)))
    )


def _pipeline_options(pipeline_options) -> PipelineOptions:
    if pipeline_options is None:
        return PipelineOptions([])
    if isinstance(pipeline_options, PipelineOptions):
        return pipeline_options
    if isinstance(pipeline_options, str):
        raise TypeError(
            "pipeline_options must be a list of flags (e.g. ['--runner', 'DirectRunner']) or a "
            f"PipelineOptions; received the string {pipeline_options!r}."
        )
    return PipelineOptions(list(pipeline_options))


def _write_work_lists(
    work_dir: pathlib.Path,
    todo: Sequence[emovoxceleb.ShardPlan],
    tracks: Sequence[Track],
    plan: emovoxceleb.BuildPlan,
    labeller: emovoxceleb.FileLabeller | None,
) -> None:
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    by_id = {t.track_id: t for t in tracks}
    for shard in todo:
        items = [
            WorkItem(
                shard=shard.name,
                position=position,
                track=by_id[track_id],
                split=plan.splits[track_id],
                labeller=None if labeller is None else labeller.subset([track_id]),
            )
            for position, track_id in enumerate(shard.track_ids)
        ]
        with open(work_dir / (shard.name + ".pkl"), "wb") as handle:
            pickle.dump(items, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _remove_stale_tmp(out_dir: pathlib.Path, todo: Sequence[emovoxceleb.ShardPlan]) -> None:
    for shard in todo:
        for path in out_dir.glob(f"{shard.name}*{emovoxceleb.TMP_SUFFIX}"):
            logger.info("removing the unfinished %s", path.name)
            path.unlink(missing_ok=True)


def _stage_seconds(result) -> dict[str, float]:
    """Busy seconds per stage from the pipeline's counters (zeros where a runner has none)."""
    seconds = dict.fromkeys(emovoxceleb.STAGES, 0.0)
    try:
        from apache_beam.metrics.metric import MetricsFilter

        counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    except (AttributeError, NotImplementedError):  # pragma: no cover - runner without metrics
        return seconds
    for counter in counters["counters"]:
        name = counter.key.metric.name
        if name.startswith("busy_ms_") and name[len("busy_ms_") :] in seconds:
            value = counter.committed if counter.committed is not None else counter.attempted
            seconds[name[len("busy_ms_") :]] += (value or 0) / 1000
    return seconds


def _written_counts(out_dir: pathlib.Path, names: Iterable[str]) -> tuple[int, int]:
    """(tracks written, tracks skipped) in these shards, from their sidecars."""
    written = skipped = 0
    for name in names:
        sidecar = emovoxceleb.read_sidecar(out_dir, name)
        written += len(sidecar.rows)
        skipped += len(sidecar.skipped)
    return written, skipped


def _run_pipeline(
    todo: Sequence[emovoxceleb.ShardPlan],
    tracks: Sequence[Track],
    plan: emovoxceleb.BuildPlan,
    out_dir: pathlib.Path,
    *,
    root: str,
    config: ExperimentConfig,
    options: emovoxceleb.BuildOptions,
    teacher,
    labeller: emovoxceleb.FileLabeller | None,
    pipeline_options,
) -> dict[str, float]:
    """Writes the work lists, runs the pipeline over the `todo` shards; returns busy seconds.

    Raises:
        RuntimeError: if the pipeline finished without writing every shard it was given.
    """
    work_dir = out_dir / WORK_DIR
    _write_work_lists(work_dir, todo, tracks, plan, labeller)
    _remove_stale_tmp(out_dir, todo)
    beam_options = _pipeline_options(pipeline_options)
    standard = beam_options.view_as(StandardOptions)
    if standard.runner in (None, "DirectRunner"):
        # Beam's own DirectRunner first tries to download and start its Go runner (Prism);
        # the Python runner it falls back to is the one --direct_num_workers drives.
        standard.runner = "FnApiRunner"
    logger.info(
        "running the Beam pipeline (%s) over %d shard files, %d tracks",
        standard.runner,
        len(todo),
        sum(len(s.track_ids) for s in todo),
    )
    pipeline = beam.Pipeline(options=beam_options)
    build_pipeline(
        pipeline,
        [s.name for s in todo],
        work_dir=work_dir,
        out_dir=out_dir,
        root=root,
        config=config,
        options=options,
        teacher_path=teacher,
    )
    result = pipeline.run()
    result.wait_until_finish()
    unfinished = [s.name for s in todo if not emovoxceleb.is_finished(out_dir, s)]
    if unfinished:
        raise RuntimeError(
            f"The Beam pipeline finished but {len(unfinished)} of its {len(todo)} shard "
            f"files are missing in '{out_dir}' (e.g. {', '.join(unfinished[:3])}); are the "
            "workers writing to another filesystem? The output folder must be at the same "
            "path on every worker."
        )
    shutil.rmtree(work_dir, ignore_errors=True)
    return _stage_seconds(result)


def build(
    tracks: Sequence[Track],
    scan_report: ScanReport,
    out_dir: str | os.PathLike,
    *,
    config: ExperimentConfig,
    teacher: str | os.PathLike | None = None,
    labeller: emovoxceleb.FileLabeller | None = None,
    options: emovoxceleb.BuildOptions | None = None,
    pipeline_options: PipelineOptions | Sequence[str] | None = None,
) -> emovoxceleb.BuildResult:
    """Plans the build, runs the Beam pipeline over the unfinished shards, and finalises.

    Give exactly one of `teacher` (a teacher file: the teacher labels the face crops) or
    `labeller` (an `emovoxceleb.FileLabeller`: the released logits).

    Args:
        tracks: scanned tracks (`kerasemo.data.voxceleb.scan`).
        scan_report: the scan's report.
        out_dir: output folder (created); the same folder a single-machine build uses.
        config: the experiment configuration.
        teacher: the teacher (``.keras`` or ``.weights.h5``), at the same path on every worker.
        labeller: a `emovoxceleb.FileLabeller` instead of a teacher.
        options: `emovoxceleb.BuildOptions` (defaults if None); ``workers``, ``prefetch`` and
            ``progress`` concern the single-machine engine and are ignored here: parallelism
            is the runner's (``--direct_num_workers``, ``--num_workers``, ...).
        pipeline_options: Beam flags (``["--runner", "DataflowRunner", ...]``) or a
            `PipelineOptions`; default: the DirectRunner, one worker, in memory.

    Returns:
        The `emovoxceleb.BuildResult` (``stage_seconds`` from the pipeline's counters: busy
        time summed over all workers; ``wall_seconds`` includes the pipeline's start-up).

    Raises:
        FileNotFoundError: if the teacher file does not exist.
        kerasemo.models.teacher.TeacherWeightsError: if it holds no 8-way teacher.
        TypeError: for a labeller that is not a `FileLabeller`, or neither/both labels given.
        ValueError: if no track is usable or the splits cannot be made.
        emovoxceleb.PlanMismatchError: if `out_dir` holds a build planned differently.
        RuntimeError: if the pipeline finished without writing every shard it was given.
    """
    options = options or emovoxceleb.BuildOptions()
    out_dir = pathlib.Path(out_dir)
    if (teacher is None) == (labeller is None):
        raise TypeError(
            "Give exactly one of teacher (a teacher file) or labeller (a FileLabeller); "
            f"received teacher={teacher!r}, labeller={labeller!r}."
        )
    if labeller is not None and not isinstance(labeller, emovoxceleb.FileLabeller):
        raise TypeError(
            "The Beam build loads the teacher on each worker from its file: pass "
            f"teacher=PATH instead of a {type(labeller).__name__}."
        )
    if teacher is not None:
        # Loaded here once, so that a missing or wrong file stops the build before any worker
        # starts; the plan records its fingerprint.
        handler = KerasTeacherModelHandler(teacher, config, batch_size=options.batch_size)
        planning_labeller = handler.load_model()
    else:
        planning_labeller = labeller
    plan, existing, todo = emovoxceleb.start_build(
        tracks, scan_report, out_dir, labeller=planning_labeller, config=config, options=options
    )
    del planning_labeller

    stage_seconds = dict.fromkeys(emovoxceleb.STAGES, 0.0)
    start = time.perf_counter()
    if todo:
        stage_seconds = _run_pipeline(
            todo,
            tracks,
            plan,
            out_dir,
            root=scan_report.root,
            config=config,
            options=options,
            teacher=teacher,
            labeller=labeller,
            pipeline_options=pipeline_options,
        )
    wall = time.perf_counter() - start
    written, failed = _written_counts(out_dir, [s.name for s in todo])
    return emovoxceleb.finish_build(
        out_dir,
        plan,
        options,
        built_shards=[s.name for s in todo],
        existing_shards=[s.name for s in existing],
        tracks_written=written,
        tracks_failed=failed,
        wall_seconds=wall,
        stage_seconds=stage_seconds,
    )
