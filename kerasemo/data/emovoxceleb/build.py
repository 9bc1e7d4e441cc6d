"""The single-machine build: plan, prepare tracks in threads, label, write, finalise.

`build` plans the build (`plan_build`), writes ``plan.json`` and ``config.toml``
(`start_build`, shared with the Beam engine), processes this part's unfinished shards, and
finalises when every planned shard exists (`finish_build`).

**Overlap.** Decoding (audio, video frames), cropping and the audio front-end run in a thread
pool several tracks ahead of the teacher; serialisation and writing run in a writer thread
(`ShardWriter`). The output order is the plan's order whatever the timing.
`BuildResult.stage_seconds` records the busy time of each stage; their sum exceeding the wall
time is the overlap.

**Determinism.** The face crops of consecutive tracks are labelled in batches of
``batch_size`` that never span two shards, so a shard's batches are the same whichever shard
a run starts from; with the teacher run through one traced function
(`kerasemo.models.teacher_inference.predict_frame_logits`), a rerun after a kill writes the
same bytes as an uninterrupted run.

`build` shows a whole build, from a scan to the finished shards.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import itertools
import logging
import os
import pathlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from kerasemo.config import ExperimentConfig
from kerasemo.data.emovoxceleb.files import is_finished
from kerasemo.data.emovoxceleb.finalise import FinalSummary, finalize
from kerasemo.data.emovoxceleb.options import BuildOptions
from kerasemo.data.emovoxceleb.plan import (
    BuildPlan,
    ShardPlan,
    assigned_shards,
    check_or_write_plan,
    plan_build,
)
from kerasemo.data.emovoxceleb.prepare import FrontEnd, PreparedTrack, TrackPreparer
from kerasemo.data.emovoxceleb.timing import StageTimer
from kerasemo.data.emovoxceleb.writer import ShardWriter
from kerasemo.data.voxceleb import ScanReport, Track
from kerasemo.progress import progress_bar

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class BuildResult:
    """What one `build` call did.

    Attributes:
        out_dir: the output folder.
        plan: the build plan.
        built_shards: shard files written by this call.
        existing_shards: shard files of this part found finished and skipped.
        tracks_written: examples written by this call.
        tracks_failed: tracks of this call's shards skipped while processing.
        wall_seconds: wall time of the processing (excluding scan and planning).
        stage_seconds: busy seconds per stage (`STAGES`), summed over threads.
        finalized: whether every planned shard existed and the build was finalised.
        summary: the finalisation's summary (`FinalSummary`) when finalised.
    """

    out_dir: pathlib.Path
    plan: BuildPlan
    built_shards: list[str]
    existing_shards: list[str]
    tracks_written: int
    tracks_failed: int
    wall_seconds: float
    stage_seconds: dict[str, float]
    finalized: bool
    summary: FinalSummary | None = None


def build(
    tracks: Sequence[Track],
    scan_report: ScanReport,
    out_dir: str | os.PathLike,
    *,
    labeller,
    config: ExperimentConfig,
    options: BuildOptions | None = None,
) -> BuildResult:
    """Plans the build, writes this part's unfinished shards, and finalises when all exist.

    A rerun resumes: finished shards are kept (and logged as skipped), stale ``.tmp`` files
    are replaced, the rest are rebuilt to the same bytes.

    Args:
        tracks: scanned tracks (`kerasemo.data.voxceleb.scan`).
        scan_report: the scan's report (kept in ``build_report.json``).
        out_dir: output folder (created).
        labeller: a `TeacherLabeller` or a `FileLabeller`.
        config: the experiment configuration (frames, splits, seed).
        options: `BuildOptions` (defaults if None).

    Returns:
        The `BuildResult`.

    Raises:
        ValueError: if no track is usable or the splits cannot be made.
        PlanMismatchError: if `out_dir` holds a build planned differently.
        RuntimeError: if writing fails (the unfinished shard stays a ``.tmp`` file).

    Example:

    >>> from kerasemo.data import voxceleb
    >>> tracks, report = voxceleb.scan("corpus/voxceleb", "voxceleb1")  # doctest: +SKIP
    >>> labeller = load_teacher_labeller("teacher.keras", config)  # doctest: +SKIP
    >>> result = build(tracks, report, "tfrecords/demo", labeller=labeller,
    ...                config=config)  # doctest: +SKIP
    >>> result.built_shards[:1]  # doctest: +SKIP
    ['train-00000-of-00004.tfrecord']
    """
    options = options or BuildOptions()
    out_dir = pathlib.Path(out_dir)
    plan, existing, todo = start_build(
        tracks, scan_report, out_dir, labeller=labeller, config=config, options=options
    )
    timer = StageTimer()
    start = time.perf_counter()
    written, failed, built = _process(
        todo, tracks, plan, out_dir, scan_report.root, labeller, config, options, timer
    )
    return finish_build(
        out_dir,
        plan,
        options,
        built_shards=built,
        existing_shards=[s.name for s in existing],
        tracks_written=written,
        tracks_failed=failed,
        wall_seconds=time.perf_counter() - start,
        stage_seconds=dict(timer.seconds),
    )


def start_build(
    tracks: Sequence[Track],
    scan_report: ScanReport,
    out_dir: str | os.PathLike,
    *,
    labeller,
    config: ExperimentConfig,
    options: BuildOptions,
) -> tuple[BuildPlan, list[ShardPlan], list[ShardPlan]]:
    """The steps before any track is processed, shared by every build engine.

    Creates `out_dir`, plans the build, writes ``plan.json`` (or checks it against the one
    there) and ``config.toml``, and sorts this part's shard files into finished and to-do.

    Args:
        tracks, scan_report, out_dir, labeller, config, options: as for `build`.

    Returns:
        ``(plan, finished, todo)``: the `BuildPlan`, and this part's `ShardPlan` s already
        finished (logged as skipped) and still to build.

    Example:

    >>> plan, finished, todo = start_build(tracks, report, "tfrecords/demo", labeller=labeller,
    ...     config=config, options=BuildOptions())  # doctest: +SKIP

    Raises:
        ValueError: if no track is usable or the splits cannot be made.
        PlanMismatchError: if `out_dir` holds a build planned differently.
    """
    from kerasemo import config as config_lib

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_build(tracks, scan_report, labeller=labeller, config=config, options=options)
    check_or_write_plan(out_dir, plan)
    config_lib.save_config(config, out_dir)

    mine = assigned_shards(plan, options.num_parts, options.part_index)
    existing = [s for s in mine if is_finished(out_dir, s)]
    for shard in existing:
        logger.info("skipping %s: already finished", shard.name)
    todo = [s for s in mine if not is_finished(out_dir, s)]
    logger.info(
        "part %d of %d: %d of %d planned shard files; %d finished, %d to build",
        options.part_index,
        options.num_parts,
        len(mine),
        len(plan.shards),
        len(existing),
        len(todo),
    )
    return plan, existing, todo


def finish_build(
    out_dir: str | os.PathLike, plan: BuildPlan, options: BuildOptions, **measured
) -> BuildResult:
    """Finalises the build if every planned shard exists (and `options.finalize`).

    Args:
        out_dir: the output folder.
        plan: the build plan.
        options: the `BuildOptions`.
        **measured: the other `BuildResult` fields (``built_shards``, ``existing_shards``,
            ``tracks_written``, ``tracks_failed``, ``wall_seconds``, ``stage_seconds``).

    Returns:
        The `BuildResult`.

    Example:

    >>> result = finish_build(out_dir, plan, BuildOptions(), built_shards=[], existing_shards=[],
    ...     tracks_written=0, tracks_failed=0, wall_seconds=0.0,
    ...     stage_seconds={})  # doctest: +SKIP
    """
    out_dir = pathlib.Path(out_dir)
    finalized, summary = False, None
    missing = [s.name for s in plan.shards if not is_finished(out_dir, s)]
    if options.finalize and not missing:
        summary = finalize(out_dir)
        finalized = True
    elif missing:
        logger.info(
            "%d of %d planned shard files are not built yet (other parts?); the manifest and "
            "figures are written once all exist (or with --finalize).",
            len(missing),
            len(plan.shards),
        )
    return BuildResult(out_dir=out_dir, plan=plan, finalized=finalized, summary=summary, **measured)


def ordered_map(
    fn: Callable, items: Iterable, workers: int, window: int
) -> Iterator[tuple[object, object]]:
    """Yields ``(item, fn(item))`` in input order, computing up to `window` items ahead.

    Args:
        fn: the work, run in `workers` threads.
        items: the inputs.
        workers: threads (0: everything in the calling thread, nothing ahead).
        window: items computed ahead of the one yielded.

    Example:

    >>> list(ordered_map(lambda x: x * x, range(4), workers=2, window=3))
    [(0, 0), (1, 1), (2, 4), (3, 9)]
    """
    if workers == 0:
        for item in items:
            yield item, fn(item)
        return
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="emovox-decode")
    try:
        iterator = iter(items)
        pending = collections.deque(
            (item, pool.submit(fn, item)) for item in itertools.islice(iterator, window)
        )
        while pending:
            item, future = pending.popleft()
            result = future.result()
            for nxt in itertools.islice(iterator, 1):
                pending.append((nxt, pool.submit(fn, nxt)))
            yield item, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _TeacherBatches:
    """Labels the face crops of consecutive tracks in batches; hands tracks on in order.

    A track is handed to `emit` once all its crops are labelled (or at once when its logits
    came from a file), always in the order the tracks were added. Call `flush` at the end of
    each shard, so that no batch spans two shards.
    """

    def __init__(self, labeller, batch_size: int, timer: StageTimer, emit: Callable):
        self.labeller = labeller
        self.batch_size = batch_size
        self.timer = timer
        self.emit = emit
        self._pending: collections.deque = collections.deque()  # [prepared, parts, unlabelled]
        self._crops: list[np.ndarray] = []

    def add(self, prepared: PreparedTrack) -> None:
        if prepared.crops is None:  # logits from the file
            self._pending.append([prepared, [], 0])
            self._emit_ready()
            return
        self._pending.append([prepared, [], len(prepared.crops)])
        self._crops.extend(prepared.crops)
        while len(self._crops) >= self.batch_size:
            self._label(self.batch_size)

    def flush(self) -> None:
        while self._crops:
            self._label(min(self.batch_size, len(self._crops)))
        self._emit_ready()

    def _label(self, count: int) -> None:
        batch = self._crops[:count]
        del self._crops[:count]
        with self.timer.time("teacher"):
            logits = self.labeller.predict(batch)
        offset = 0
        for entry in self._pending:
            if offset >= count:
                break
            if entry[2] == 0:
                continue
            take = min(entry[2], count - offset)
            entry[1].append(logits[offset : offset + take])
            entry[2] -= take
            offset += take
        self._emit_ready()

    def _emit_ready(self) -> None:
        while self._pending and self._pending[0][2] == 0:
            prepared, parts, _ = self._pending.popleft()
            prepared.logits = np.concatenate(parts) if parts else prepared.logits
            prepared.crops = None
            self.emit(prepared)


def _process(todo, tracks, plan, out_dir, root, labeller, config, options, timer):
    """Writes the `todo` shards; returns ``(tracks written, tracks failed, shards written)``."""
    if not todo:
        return 0, 0, []
    by_id = {t.track_id: t for t in tracks}
    frontend = FrontEnd() if options.audio == "spectrogram" else None
    preparer = TrackPreparer(config, options, labeller, timer, frontend)
    items = [(shard, by_id[t]) for shard in todo for t in shard.track_ids]
    writer = ShardWriter(out_dir, root, timer, inline=options.workers == 0)
    progress = progress_bar(
        total=len(items), enabled=options.progress, unit="track", desc="EmoVoxCeleb", smoothing=0.1
    )
    counts = {"written": 0, "failed": 0}

    def emit(prepared):
        writer.put(("example", prepared))
        counts["written"] += 1
        progress.update(1)

    batches = _TeacherBatches(labeller, options.batch_size, timer, emit)
    current = None
    try:
        stream = ordered_map(
            lambda item: preparer((item[1], plan.splits[item[1].track_id])),
            items,
            options.workers,
            max(options.prefetch, options.workers),
        )
        with contextlib.closing(stream):
            for (shard, _), prepared in stream:
                if shard is not current:
                    if current is not None:
                        batches.flush()
                        writer.put(("close",))
                    writer.put(("open", shard))
                    current = shard
                if prepared.error is None:
                    batches.add(prepared)
                    continue
                writer.put(("skip", prepared.track.track_id, prepared.error, prepared.detail))
                logger.warning(
                    "skipping %s: %s (%s)",
                    prepared.track.track_id,
                    prepared.error,
                    prepared.detail,
                )
                counts["failed"] += 1
                progress.update(1)
        if current is not None:
            batches.flush()
            writer.put(("close",))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        progress.close()
    return counts["written"], counts["failed"], list(writer.finished)
