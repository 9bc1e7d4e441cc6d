"""`generate_corpus`: writes the whole synthetic corpus into a folder, idempotently.

Layout of ``out_dir`` (see the package docstring for what each part holds)::

    ferplus/fer2013.csv, ferplus/fer2013new.csv
    voxceleb/{wav,txt,frames,video}/..., voxceleb/vox1_meta.csv
    rml/<subject>/.../<code><n>.avi
    cremad/AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav
    ground_truth/{faces,tracks,frames,acted,identities}.csv   (evaluation only)
    contact_sheet.png, corpus.json, README.txt

The corpus is built in a hidden sibling folder and moved into place when complete, so
``out_dir`` never holds half a corpus. ``corpus.json`` records the preset, seed and generator
version; calling again with the same ones finds it and returns at once ("skipping").
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import logging
import os
import pathlib
import platform
import shutil
import time

import numpy as np

from kerasemo.data.synthetic import acted as acted_lib
from kerasemo.data.synthetic import contact_sheet as sheet_lib
from kerasemo.data.synthetic import face_set as face_set_lib
from kerasemo.data.synthetic import tracks as tracks_lib
from kerasemo.data.synthetic import writers
from kerasemo.data.synthetic.guard import GROUND_TRUTH_DIRNAME
from kerasemo.data.synthetic.presets import SyntheticPreset, get_preset
from kerasemo.emotions import CLASSES
from kerasemo.progress import progress_bar

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1
"""Bumped whenever the generated content changes for a given preset and seed."""
SUMMARY_FILENAME = "corpus.json"
CONTACT_SHEET_FILENAME = "contact_sheet.png"
README_FILENAME = "README.txt"
DATASET_DIRS = ("ferplus", "voxceleb", "rml", "cremad")
"""Top-level folders that training-side readers may open (never `GROUND_TRUTH_DIRNAME`)."""
_OWNED = DATASET_DIRS + (GROUND_TRUTH_DIRNAME, CONTACT_SHEET_FILENAME, README_FILENAME, SUMMARY_FILENAME)


class CorpusExistsError(FileExistsError):
    """`out_dir` holds something that generating here would overwrite."""


@dataclasses.dataclass
class CorpusSummary:
    """What a corpus holds (the content of ``corpus.json``).

    Attributes:
        root: the corpus folder.
        preset: the preset's values (`SyntheticPreset.to_dict`).
        seed: the corpus seed.
        generator_version: `GENERATOR_VERSION` at generation time.
        seconds: wall time of the generation.
        counts: sizes (faces per usage, identities, videos, tracks, audio seconds, crops, clips,
            bytes on disk, ...).
        layout: paths relative to `root` and media parameters (rates, sizes).
        versions: library versions used.
        skipped: True when this call found the corpus already complete and wrote nothing.
    """

    root: str
    preset: dict
    seed: int
    generator_version: int
    seconds: float
    counts: dict
    layout: dict
    versions: dict
    skipped: bool = False

    @property
    def preset_name(self) -> str:
        return self.preset["name"]

    def path(self, key: str) -> pathlib.Path:
        """Absolute path of a layout entry (``ferplus``, ``voxceleb``, ``rml``, ``cremad``,
        ``ground_truth``, ``contact_sheet``)."""
        return pathlib.Path(self.root) / self.layout["paths"][key]

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values.pop("skipped")
        values.pop("root")
        return values

    @classmethod
    def from_dict(cls, values: dict, root: str, skipped: bool = False) -> "CorpusSummary":
        fields = {f.name for f in dataclasses.fields(cls)} - {"root", "skipped"}
        return cls(root=root, skipped=skipped, **{k: values[k] for k in fields})


def read_summary(out_dir) -> CorpusSummary | None:
    """The summary of the corpus in `out_dir`, or None when there is none (or it is unreadable)."""
    path = pathlib.Path(out_dir) / SUMMARY_FILENAME
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return CorpusSummary.from_dict(values, root=str(pathlib.Path(out_dir).resolve()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _versions() -> dict:
    import av
    from av import library_versions as ffmpeg_versions
    import PIL
    import soundfile

    import kerasemo

    return {
        "kerasemo": kerasemo.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "av": av.__version__,
        "ffmpeg": ".".join(str(x) for x in ffmpeg_versions.get("libavcodec", ())),
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
        "pillow": PIL.__version__,
    }


def _folder_bytes(root: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _readme(preset: SyntheticPreset, seed: int) -> str:
    return f"""SYNTHETIC DATA - NOT A SUBSTITUTE FOR REAL DATA

This folder was generated by kerasemo (python -m kerasemo.experiments.make_synthetic,
preset "{preset.name}", seed {seed}). Nothing in it shows a real person or a real voice.
Faces are drawn procedurally, voices synthesised from a source-filter model whose prosody
follows a latent emotion. It has the structure of the real problem (FERPlus faces with
annotator votes, VoxCeleb1-style talking-face tracks, RML- and CREMA-D-style acted speech), in
the same on-disk formats, so that the project's readers and pipelines can be run end to end on
a machine without the real data. Results on it say whether the method and the code work; they
say nothing about real-world accuracy.

  ferplus/        fer2013.csv + fer2013new.csv (48x48 faces, 10 simulated annotators)
  voxceleb/       wav/ txt/ frames/ (video/) in VoxCeleb1 layout; vox1_meta.csv
  rml/            RML-like acted clips (AVI: MJPEG face video + 22,050 Hz PCM audio)
  cremad/         CREMA-D-like acted clips (AudioWAV/*.wav, 16 kHz)
  ground_truth/   the latent emotions the corpus was built from. EVALUATION ONLY: training
                  code must never read it (kerasemo.data.synthetic.forbid_ground_truth).
  contact_sheet.png  faces and spectrograms per emotion, for a person to look at
  corpus.json     preset, seed, sizes, generation time, library versions

Face-track txt files say "Offset : 1" like many real files; the synthetic audio and video
are in sync regardless. Track boxes are in pixels of a 640 x 360 frame.
"""


def _check_destination(
    out: pathlib.Path, preset: SyntheticPreset, seed: int, overwrite: bool
) -> CorpusSummary | None:
    """Returns the existing summary to skip, None to generate; raises when it must not write."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise CorpusExistsError(f"'{out}' exists and is not a folder; choose a folder path for the corpus.")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return None
    summary = read_summary(out)
    if summary is None:
        raise CorpusExistsError(
            f"'{out}' is not empty ({len(entries)} entries, e.g. {entries[:3]}) and holds no synthetic "
            f"corpus (no readable {SUMMARY_FILENAME}); refusing to write into it. Choose a new or "
            "empty folder."
        )
    same = (
        summary.preset == preset.to_dict()
        and summary.seed == seed
        and summary.generator_version == GENERATOR_VERSION
    )
    if same and not overwrite:
        return summary
    foreign = sorted(set(entries) - set(_OWNED))
    if foreign:
        raise CorpusExistsError(
            f"'{out}' holds a synthetic corpus but also other files {foreign[:5]}; refusing to replace "
            "it. Move those files away or choose another folder."
        )
    if not overwrite:
        raise CorpusExistsError(
            f"'{out}' already holds a synthetic corpus with preset '{summary.preset_name}', seed "
            f"{summary.seed}, generator version {summary.generator_version}; requested preset "
            f"'{preset.name}', seed {seed}, version {GENERATOR_VERSION}. Pass overwrite=True "
            "(--overwrite) to replace it, or choose another folder."
        )
    return None


def generate_corpus(
    out_dir,
    preset: "str | SyntheticPreset" = "demo",
    seed: int = 0,
    *,
    overwrite: bool = False,
    progress: bool = False,
    contact_sheet: bool = True,
    workers: int | None = None,
) -> CorpusSummary:
    """Generates the synthetic corpus into `out_dir` (or finds it already there).

    Args:
        out_dir: destination folder; created if missing. It must be missing, empty, or hold a
            corpus written by this function.
        preset: a name in `PRESETS` (``"demo"``, ``"tiny"``) or a `SyntheticPreset`.
        seed: non-negative integer; the same preset and seed give the same files.
        overwrite: replace a corpus with a different preset/seed/version, or regenerate the
            same one. Never deletes a folder that holds anything but a corpus.
        progress: show progress bars (drawn only on a terminal).
        contact_sheet: also draw ``contact_sheet.png`` (imports matplotlib).
        workers: processes generating the three datasets (faces, tracks, acted speech) side by
            side; None = min(2, CPU count); 1 = everything in this process. The files do not
            depend on it (every item has its own random stream).

    Returns:
        The `CorpusSummary` (``skipped=True`` when an identical corpus was already there).

    Raises:
        CorpusExistsError: when `out_dir` holds other files, or another corpus without
            `overwrite`.
        ValueError: for an unknown preset or a negative seed.

    Example:

    >>> summary = generate_corpus("data/synthetic", preset="tiny", seed=0)  # doctest: +SKIP
    >>> summary.counts["tracks"]  # doctest: +SKIP
    9
    """
    preset = get_preset(preset)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; received {seed!r}.")
    seed = int(seed)
    out = pathlib.Path(out_dir).expanduser().absolute()
    existing = _check_destination(out, preset, seed, overwrite)
    if existing is not None:
        logger.info(
            "Synthetic corpus (preset %s, seed %d) already complete in %s; skipping.", preset.name, seed, out
        )
        existing.skipped = True
        return existing

    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    staging.mkdir()
    try:
        logger.info("Generating synthetic corpus (preset %s, seed %d) in %s ...", preset.name, seed, out)
        faces, tracks, acted = _generate_parts(staging, preset, seed, progress, workers)
        truth = staging / GROUND_TRUTH_DIRNAME
        _write_rows(truth / "faces.csv", faces.ground_truth)
        _write_rows(truth / "tracks.csv", tracks.segments)
        _write_rows(truth / "frames.csv", tracks.frames)
        _write_rows(truth / "identities.csv", tracks.identities)
        _write_rows(truth / "acted.csv", acted.ground_truth)
        if contact_sheet:
            sheet_lib.write_contact_sheet(
                staging / CONTACT_SHEET_FILENAME, faces.images, faces.ground_truth, seed=seed,
                title=f"kerasemo synthetic corpus, preset '{preset.name}', seed {seed}",
            )
        writers.write_text(staging / README_FILENAME, _readme(preset, seed))
        counts = _counts(faces, tracks, acted)
        counts["bytes"] = _folder_bytes(staging)
        summary = CorpusSummary(
            root=str(out),
            preset=preset.to_dict(),
            seed=seed,
            generator_version=GENERATOR_VERSION,
            seconds=round(time.perf_counter() - started, 3),
            counts=counts,
            layout=_layout(preset, contact_sheet),
            versions=_versions(),
        )
        writers.write_text(staging / SUMMARY_FILENAME, json.dumps(summary.to_dict(), indent=2) + "\n")
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info(
        "Synthetic corpus written to %s in %.1f s (%.1f MB).", out, summary.seconds, counts["bytes"] / 1e6
    )
    return summary


def _generate_parts(staging: pathlib.Path, preset: SyntheticPreset, seed: int, progress: bool, workers):
    """Runs the three dataset generators, in worker processes when `workers` > 1."""
    jobs = (  # the longest first, so two workers finish together
        (tracks_lib.generate_tracks, staging / "voxceleb"),
        (face_set_lib.generate_face_set, staging / "ferplus"),
        (acted_lib.generate_acted, staging),
    )
    workers = min(2, os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1 (or None); received {workers!r}.")
    if workers == 1:
        results = [job(folder, preset, seed, progress=progress) for job, folder in jobs]
    else:
        # "spawn": safe even when the caller has TensorFlow (threads) loaded.
        context = multiprocessing.get_context("spawn")
        processes = min(workers, len(jobs))
        with concurrent.futures.ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            futures = [pool.submit(job, folder, preset, seed) for job, folder in jobs]
            pending = progress_bar(
                total=len(jobs), enabled=progress, desc="synthetic corpus", unit="part", leave=False
            )
            for _ in concurrent.futures.as_completed(futures):
                pending.update()
            pending.close()
            results = [future.result() for future in futures]
    tracks, faces, acted = results
    return faces, tracks, acted


def _write_rows(path: pathlib.Path, rows: list[dict]) -> None:
    header = list(rows[0]) if rows else []
    writers.write_table(path, header, ([row[k] for k in header] for row in rows))


def _counts(faces, tracks, acted) -> dict:
    kinds = [row["kind"] for row in faces.ground_truth]
    return {
        "faces": len(faces.ground_truth),
        "faces_by_usage": faces.usage_counts,
        "faces_by_kind": {k: kinds.count(k) for k in sorted(set(kinds))},
        "identities": len(tracks.identities),
        "videos": tracks.num_videos,
        "tracks": tracks.num_tracks,
        "tracks_under_4s": tracks.short_tracks,
        "track_audio_seconds": round(tracks.audio_seconds, 2),
        "face_crops": len(tracks.frames),
        "episodes": sum(row["face_emotion"] != "neutral" for row in tracks.segments),
        "mismatched_episodes": sum(bool(row["mismatch"]) for row in tracks.segments),
        "rml_clips": acted.rml_clips,
        "cremad_clips": acted.cremad_clips,
        "acted_audio_seconds": round(acted.audio_seconds, 2),
    }


def _layout(preset: SyntheticPreset, contact_sheet: bool) -> dict:
    paths = {name: name for name in DATASET_DIRS}
    paths["ground_truth"] = GROUND_TRUTH_DIRNAME
    paths["fer2013_csv"] = f"ferplus/{writers.FER2013_FILENAME}"
    paths["ferplus_csv"] = f"ferplus/{writers.FERPLUS_FILENAME}"
    paths["voxceleb_meta"] = "voxceleb/vox1_meta.csv"
    paths["cremad_audio"] = "cremad/AudioWAV"
    if contact_sheet:
        paths["contact_sheet"] = CONTACT_SHEET_FILENAME
    return {
        "paths": paths,
        "classes": list(CLASSES),
        "voxceleb": {
            "fps": tracks_lib.FPS,
            "sample_rate": tracks_lib.SAMPLE_RATE,
            "box_frame_size": [writers.BOX_FRAME_WIDTH, writers.BOX_FRAME_HEIGHT],
            "frame_stride": tracks_lib.FRAME_STRIDE,
            "crop_size": preset.frame_crop_size,
            "crop_folder": tracks_lib.CROP_FOLDER,
            "video_size": list(preset.video_size) if preset.write_videos else None,
        },
        "rml": {
            "sample_rate": acted_lib.RML_SAMPLE_RATE,
            "video_size": list(acted_lib.RML_VIDEO_SIZE),
            "fps": acted_lib.RML_FPS,
        },
        "cremad": {"sample_rate": acted_lib.CREMAD_SAMPLE_RATE},
    }


def _move_into_place(staging: pathlib.Path, out: pathlib.Path) -> None:
    if out.exists():
        if not any(out.iterdir()):
            out.rmdir()
        else:  # an older corpus of ours (checked by _check_destination): swap, then delete it
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
            return
    staging.rename(out)
