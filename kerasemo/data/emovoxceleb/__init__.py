"""Builds EmoVoxCeleb-style shards: teacher frame logits + track audio, one example per track.

The pipeline (the paper's section 4, "The EmoVoxCeleb dataset"), for tracks found by
`kerasemo.data.voxceleb.scan`:

1. **Labels.** Either a face teacher labels the track's labelled frames (one every 6 at 25 fps,
   `kerasemo.data.frames`): each frame is decoded (PyAV for video, PIL for the authors' JPEGs),
   the face is cropped from its box (square, optional context margin), and the crops of
   consecutive tracks are run through the teacher in batches (`TeacherLabeller`). Or the
   authors' released logits file supplies the frame logits (`FileLabeller`, no teacher).
2. **Audio.** The whole track is decoded to 16 kHz mono and stored either as the recipe's
   257-bin magnitude spectrogram (``VGGVoxSpectrogram(mirror=False, normalize=False)``,
   time-major, float16 after scaling; enough to rebuild the 512 mirrored bins exactly) or as
   int16 samples. Per-crop normalisation and mirroring happen later, in the model.
3. **Splits.** Identity-disjoint train / heard_val / unheard_val (`kerasemo.data.splits`),
   or the logits file's own sets.
4. **Shards.** Examples (`kerasemo.data.schema.make_example`, the only writer of examples)
   grouped per split into ``<split>-<index:05d>-of-<count:05d>.tfrecord``.

**Frame times.** Labelled frame k (1-based) of a track is stored with time ``6 (k - 1) / 25`` s
from the track's start (its own video frame's time; `kerasemo.data.frames.labelled_frame_times`).
The authors' index formula selects it for audio times in ``[t_k + 1/25, t_k + 7/25)``; the
distillation pipeline selects a crop's frames with that formula on the crop's times.

**Shard planning.** Before anything is written the whole build is planned: the tracks of each
split are put in a seeded random order (so a shard mixes identities) and cut into contiguous
runs of about ``shard_mb`` megabytes, estimated from each track's duration (from its face-track
frames, no audio decoding). The plan is a pure function of the scanned tracks and the options,
so every process computes the same plan; it is written to ``plan.json`` and a later run with a
different plan (other options, another corpus, another teacher file) stops with an error
instead of mixing incompatible shards.

**Resuming and atomicity.** Each shard is written as ``<name>.tmp`` and renamed when complete,
after its sidecar (``parts/<name>.npz``: per-track metadata, frame logits, skipped tracks) is in
place; so a file with a finished shard's name is always complete. A rerun skips finished shards
(logging each), deletes stale ``.tmp`` files and rebuilds the rest. Teacher batches never span
two shards and the decoded inputs are deterministic, so a rerun after a kill writes the same
bytes as an uninterrupted run.

**Several processes or machines.** With ``num_parts=N, part_index=i`` a process builds only the
planned shard files ``j`` with ``j % N == i`` (round-robin over the global shard list). Every
process writes into the same output folder (a shared filesystem) or its own copy (then merge the
folders: file names never collide). When a process finishes its part and finds every planned
shard present, it finalises the build: ``manifest.csv`` / ``manifest.parquet``,
``frame_logits.npz`` / ``frame_logits.mat`` (the authors' ``wavLogits`` structure),
``figure4_dominant_emotions.png``, ``summary.md`` and ``build_report.json`` (``config.toml`` is
written when a build starts).
Finalisation only reads ``plan.json`` and the sidecars, writes each file atomically, and is
idempotent, so several processes finishing together are harmless; `finalize` does it on its own
(``--finalize``). `kerasemo.data.beam_build` runs the same build as an Apache Beam pipeline
(the same plan, shard files and sidecars; examples are serialised deterministically, so a shard
has the same bytes whichever process or worker wrote it).

**Overlap.** Decoding (audio, video frames), cropping and the audio front-end run in a thread
pool several tracks ahead of the teacher; serialisation and writing run in a writer thread. The
output order is the plan's order whatever the timing. `BuildResult.stage_seconds` records the
busy time of each stage; their sum exceeding the wall time is the overlap.

**Modules.** `options` (`BuildOptions`), `labellers` (teacher or logits file), `plan` (the
plan and ``plan.json``), `prepare` (decoding, cropping, front-end), `shards` (examples and
shard files), `sidecars` (what each shard holds, for finalisation and integrity checks),
`writer` (the writer thread), `build` (the single-machine engine), `finalise` (manifest and
exports), `summary` (figure and ``summary.md``), `files` (names, atomic writes, digests) and
`timing` (busy time per stage).

Example:

>>> from kerasemo.data import voxceleb, emovoxceleb
>>> tracks, report = voxceleb.scan("corpus/voxceleb", "voxceleb1")  # doctest: +SKIP
>>> labeller = emovoxceleb.load_teacher_labeller("teacher.keras", config)  # doctest: +SKIP
>>> result = emovoxceleb.build(tracks, report, "tfrecords/demo", labeller=labeller,
...                            config=config)  # doctest: +SKIP
>>> result.finalized, result.tracks_written  # doctest: +SKIP
(True, 120)
"""

from kerasemo.data.emovoxceleb.build import (
    BuildResult,
    build,
    finish_build,
    ordered_map,
    start_build,
)
from kerasemo.fingerprints import file_sha256  # public here too: shard digests use it
from kerasemo.data.emovoxceleb.files import (
    PARTS_DIR,
    PLAN_FILE,
    TMP_SUFFIX,
    is_finished,
    sidecar_path,
    write_atomic,
)
from kerasemo.data.emovoxceleb.finalise import (
    MANIFEST_TRACK_COLUMNS,
    FinalSummary,
    IncompleteBuildError,
    finalize,
)
from kerasemo.data.emovoxceleb.labellers import (
    FileLabeller,
    TeacherLabeller,
    load_teacher_labeller,
)
from kerasemo.data.emovoxceleb.options import (
    AUDIO_KINDS,
    SAMPLE_RATE,
    SPLIT_SOURCES,
    VIDEO_CROPS,
    BuildOptions,
)
from kerasemo.data.emovoxceleb.plan import (
    NOTE_UNUSED_LOGITS,
    PLAN_VERSION,
    SKIP_EMPTY_LOGITS,
    SKIP_NO_FILE_SPLIT,
    SKIP_NO_FRAME_SOURCE,
    SKIP_NO_LOGITS,
    BuildPlan,
    PlanMismatchError,
    ShardPlan,
    assigned_shards,
    check_or_write_plan,
    estimated_example_bytes,
    plan_build,
)
from kerasemo.data.emovoxceleb.prepare import (
    NOTE_VIDEO_SHORT,
    NOTE_WHOLE_FRAME,
    SKIP_AUDIO,
    SKIP_FRAMES,
    VOXCELEB2_CLIP_SIZE,
    FrontEnd,
    PreparedTrack,
    TrackPreparer,
)
from kerasemo.data.emovoxceleb.shards import (
    ShardFile,
    TrackRecord,
    serialize_track,
    track_record,
)
from kerasemo.data.emovoxceleb.sidecars import (
    Sidecar,
    read_recorded_integrity,
    read_sidecar,
    write_sidecar,
)
from kerasemo.data.emovoxceleb.timing import STAGES, StageTimer
from kerasemo.data.emovoxceleb.writer import ShardWriter

__all__ = [
    "AUDIO_KINDS",
    "MANIFEST_TRACK_COLUMNS",
    "NOTE_UNUSED_LOGITS",
    "NOTE_VIDEO_SHORT",
    "NOTE_WHOLE_FRAME",
    "PARTS_DIR",
    "PLAN_FILE",
    "PLAN_VERSION",
    "SAMPLE_RATE",
    "SKIP_AUDIO",
    "SKIP_EMPTY_LOGITS",
    "SKIP_FRAMES",
    "SKIP_NO_FILE_SPLIT",
    "SKIP_NO_FRAME_SOURCE",
    "SKIP_NO_LOGITS",
    "SPLIT_SOURCES",
    "STAGES",
    "TMP_SUFFIX",
    "VIDEO_CROPS",
    "VOXCELEB2_CLIP_SIZE",
    "BuildOptions",
    "BuildPlan",
    "BuildResult",
    "FileLabeller",
    "FinalSummary",
    "FrontEnd",
    "IncompleteBuildError",
    "PlanMismatchError",
    "PreparedTrack",
    "ShardFile",
    "ShardPlan",
    "ShardWriter",
    "Sidecar",
    "StageTimer",
    "TeacherLabeller",
    "TrackPreparer",
    "TrackRecord",
    "assigned_shards",
    "build",
    "check_or_write_plan",
    "estimated_example_bytes",
    "file_sha256",
    "finalize",
    "finish_build",
    "is_finished",
    "load_teacher_labeller",
    "ordered_map",
    "plan_build",
    "read_recorded_integrity",
    "read_sidecar",
    "serialize_track",
    "sidecar_path",
    "start_build",
    "track_record",
    "write_atomic",
    "write_sidecar",
]
