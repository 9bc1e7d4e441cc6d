"""Did emotion transfer from faces to voices? Scores against the synthetic corpus's ground truth.

The synthetic corpus (`kerasemo.data.synthetic`) knows, for every track, which emotion the face
showed and which the voice carried (``ground_truth/tracks.csv``). This module reads it, on
purpose, to answer questions no training stage may ask:

- `track_truth`: each track's emotion (the emotion of its longest non-neutral episode, face or
  voice);
- `ground_truth_scores`: accuracy and mean one-vs-rest ROC AUC of any logits against it;
- `write_oracle_shards`: a copy of the distillation shards whose teacher logits are replaced by
  the voice's latent emotion, to train the *oracle* student (the ceiling of what the voice and
  the student can give under the same budget);
- `teacher_target_scores`: how much of the ground truth the max-pooled teacher targets carry;
- `GroundTruthCurve`: a Keras callback that scores a student during training (ground-truth AUC
  on unheard tracks, speaker-independent linear-probe accuracy on acted sets) for learning
  curves, and `plot_learning_curves` to draw them.

None of this runs inside the training stages of the main job, which stay under
`kerasemo.data.synthetic.forbid_ground_truth`.

Example:

```python
from kerasemo.evaluation import transfer

truth = transfer.track_truth("data/synthetic")            # {"id10001/<video>/00001": "anger", ...}
scores = transfer.ground_truth_scores(truth, track_ids, student_logits)
scores["mean_auc"], scores["accuracy"]
```
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import shutil
from typing import Sequence

import numpy as np

from kerasemo.emotions import CLASSES, NUM_CLASSES

logger = logging.getLogger(__name__)

ORACLE_LOGIT = 5.0
"""Logit of the voice's emotion at a labelled frame in oracle targets (the others are 0).

A neutral frame gets half of it, so that a crop's max-pooled target names the episode's emotion
when the crop holds one (the track-level truth of `track_truth`) and neutral otherwise."""


def _segments(corpus) -> "pandas.DataFrame":  # noqa: F821
    import pandas as pd

    path = pathlib.Path(corpus) / "ground_truth" / "tracks.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"{str(path)!r} does not exist: the ground truth is written by "
            "`python -m kerasemo.experiments.make_synthetic`; pass the corpus folder."
        )
    segments = pd.read_csv(path, dtype={"track": str})
    segments["duration"] = segments["end"] - segments["start"]
    return segments


def track_truth(corpus, modality: str = "face") -> dict[str, str]:
    """Each track's ground-truth emotion: the emotion of its longest non-neutral episode.

    Args:
        corpus: the synthetic corpus folder (holding ``ground_truth/``).
        modality: ``"face"`` (what the teacher could see) or ``"voice"`` (what the audio
            carries; differs from the face in the corpus's mismatched episodes).

    Returns:
        A dict track id (``identity/video/track``) -> class name; ``"neutral"`` for a track
        without an episode.
    """
    if modality not in ("face", "voice"):
        raise ValueError(f"modality must be 'face' or 'voice'; received {modality!r}.")
    column = f"{modality}_emotion"
    segments = _segments(corpus)
    truth = {}
    for (identity, video, track), rows in segments.groupby(["identity", "video", "track"]):
        emotional = rows[rows[column] != "neutral"]
        best = emotional.loc[emotional["duration"].idxmax(), column] if len(emotional) else "neutral"
        truth[f"{identity}/{video}/{track}"] = best
    return truth


def ground_truth_scores(truth: dict[str, str], track_ids: Sequence[str], logits) -> dict:
    """Accuracy and mean one-vs-rest ROC AUC of `logits` against the tracks' true emotions.

    Args:
        truth: `track_truth`'s dict.
        track_ids: ``[N]`` track ids of the rows of `logits`.
        logits: ``[N, 8]`` scores in `kerasemo.emotions.CLASSES` order.

    Returns:
        ``{"tracks", "accuracy", "mean_auc", "majority_accuracy"}`` over the tracks that have a
        ground truth; ``mean_auc`` averages the emotions with positive and negative tracks
        (None when none has).
    """
    from kerasemo.evaluation.auc import emotion_auc

    ids = [str(t) for t in track_ids]
    known = [i for i, t in enumerate(ids) if t in truth]
    if not known:
        raise ValueError(
            f"None of the {len(ids)} track ids is in the ground truth (e.g. {ids[:2]}); the "
            "logits and the corpus do not belong together."
        )
    labels = np.array([CLASSES.index(truth[ids[i]]) for i in known])
    logits = np.asarray(logits, np.float64)[known]
    one_hot = np.eye(NUM_CLASSES)[labels] * 10.0  # the truth as "teacher logits" for emotion_auc
    report = emotion_auc(one_hot, logits, excluded=())
    return {
        "tracks": len(known),
        "accuracy": float(np.mean(logits.argmax(axis=1) == labels)),
        "mean_auc": report.mean,
        "majority_accuracy": float(np.mean(labels == np.bincount(labels).argmax())),
    }


def recovery(student_auc: float | None, teacher_auc: float | None) -> float | None:
    """The student's share of the teacher's above-chance AUC: (s - 0.5) / (t - 0.5)."""
    if student_auc is None or teacher_auc is None or teacher_auc <= 0.5:
        return None
    return (student_auc - 0.5) / (teacher_auc - 0.5)


def _voice_emotion_at(segments, times: np.ndarray) -> np.ndarray:
    """Class index of the voice's emotion at each time (seconds from the track start)."""
    labels = np.zeros(len(times), np.int64)
    starts, ends = segments["start"].to_numpy(), segments["end"].to_numpy()
    names = segments["voice_emotion"].to_numpy()
    for j, t in enumerate(times):
        inside = np.flatnonzero((starts <= t) & (t < ends))
        if inside.size:
            labels[j] = CLASSES.index(names[inside[0]])
    return labels


def write_oracle_shards(shards_dir, corpus, out_dir, *, logit: float = ORACLE_LOGIT) -> pathlib.Path:
    """Copies the shards with every labelled frame's teacher logits replaced by the voice's truth.

    The frame at time t gets logit `logit` for the emotion the voice carries at t (half of it
    for neutral) and 0 for the others; audio, splits and frame times are unchanged, so the same pipeline and student train
    on them. Idempotent: an existing complete copy is kept.

    Args:
        shards_dir: a folder written by ``build_emovoxceleb``.
        corpus: the synthetic corpus the shards were built from.
        out_dir: where the oracle shards go (with a copy of the manifest).
        logit: the true emotion's logit.

    Returns:
        `out_dir` as a path.
    """
    import tensorflow as tf

    from kerasemo.data import schema

    shards_dir, out_dir = pathlib.Path(shards_dir), pathlib.Path(out_dir)
    done = out_dir / "ORACLE_COMPLETE"
    if done.exists():
        logger.info("oracle shards: %s exists, skipping", out_dir)
        return out_dir
    segments = _segments(corpus)
    by_track = {
        f"{i}/{v}/{t}": rows for (i, v, t), rows in segments.groupby(["identity", "video", "track"])
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    files = sorted(shards_dir.glob("*-of-*.tfrecord"))
    if not files:
        raise FileNotFoundError(f"No shards (*-of-*.tfrecord) in {str(shards_dir)!r}.")
    for path in files:
        with tf.io.TFRecordWriter(str(out_dir / path.name)) as writer:
            for record in tf.data.TFRecordDataset(str(path)):
                example = tf.train.Example.FromString(record.numpy())
                features = example.features.feature
                track = features[schema.KEY_TRACK_ID].bytes_list.value[0].decode()
                times = np.frombuffer(features[schema.KEY_FRAME_TIMES].bytes_list.value[0], np.float32)
                labels = _voice_emotion_at(by_track[track], times.astype(np.float64))
                scale = np.where(labels == 0, 0.5 * logit, logit).astype(np.float32)
                logits = np.eye(NUM_CLASSES, dtype=np.float32)[labels] * scale[:, None]
                features[schema.KEY_LOGITS].bytes_list.value[0] = logits.tobytes()
                writer.write(example.SerializeToString())
    for name in ("manifest.csv",):
        if (shards_dir / name).exists():
            shutil.copy2(shards_dir / name, out_dir / name)
    done.write_text("voice ground truth as teacher logits\n")
    return out_dir


def teacher_target_scores(shards_dir, corpus, *, pooling: str = "max", split: str = "unheard_val") -> dict:
    """How much of the ground truth the pooled teacher targets of one split carry.

    Returns:
        ``{"face": scores, "voice": scores}``: `ground_truth_scores` of the track-pooled teacher
        logits against the face's and the voice's truth.
    """
    from kerasemo.data import pipeline

    files = pipeline.shard_files(shards_dir, split)
    targets, ids = [], []
    for _, target, track_ids in pipeline.validation_dataset(files, pooling=pooling, with_ids=True):
        targets.append(target.numpy())
        ids += [t.decode() for t in track_ids.numpy()]
    targets = np.concatenate(targets)
    return {m: ground_truth_scores(track_truth(corpus, m), ids, targets) for m in ("face", "voice")}


@dataclasses.dataclass
class ProbeSet:
    """Spectrograms and labels of an acted set, prepared once for repeated linear probes."""

    name: str
    spectrograms: list  # [bins, frames] float32 arrays, unnormalised
    labels: np.ndarray
    speakers: np.ndarray


def load_probe_set(name: str, root, *, bins: int = 257) -> ProbeSet:
    """Decodes an acted set once (`kerasemo.data.acted.read_dataset`) for `probe_accuracy`."""
    import keras

    from kerasemo.audio import VGGVoxSpectrogram, load_audio
    from kerasemo.data import acted

    clips, _ = acted.read_dataset(name, root)
    frontend = VGGVoxSpectrogram(mirror=bins == 512, normalize=False)
    spectrograms = [
        keras.ops.convert_to_numpy(frontend(load_audio(p)[None, :]))[0] for p in clips["path"]
    ]
    labels = np.array([CLASSES.index(c) for c in clips["label"]])
    return ProbeSet(name, spectrograms, labels, clips["speaker"].to_numpy())


def embed(student, spectrograms: Sequence[np.ndarray]) -> np.ndarray:
    """The student's logits for each spectrogram, one call per clip (`predict_batch`)."""
    from kerasemo.evaluation.probing import pad_for_student
    from kerasemo.models.calls import predict_batch

    return np.stack([predict_batch(student, pad_for_student(s)[None])[0] for s in spectrograms])


def probe_accuracy(student, probe_set: ProbeSet) -> float:
    """Mean speaker-independent linear-probe accuracy of the student's outputs on `probe_set`."""
    from kerasemo.evaluation.probing import cross_validate, speaker_folds

    features = embed(student, probe_set.spectrograms)
    plan = speaker_folds(probe_set.speakers)
    return cross_validate(features, probe_set.labels, plan, num_classes=NUM_CLASSES).mean


def _keras_callback_base():
    import keras

    return keras.callbacks.Callback


class GroundTruthCurve(_keras_callback_base()):
    """Keras callback: scores the student every few epochs, for a learning curve.

    Pass it to ``fit`` on a `kerasemo.models.Distiller` (it scores ``model.student``) or on a
    student. `points` holds one dict per evaluation:
    ``{"epoch", "steps", "auc", "accuracy", "probe": {set name: accuracy}}``.

    Args:
        validation: an unheard-identity validation dataset built ``with_ids=True``
            (`kerasemo.data.pipeline.validation_dataset`), or the list of its elements; read
            once.
        truth: `track_truth` of the corpus.
        probe_sets: `ProbeSet`s for speaker-independent linear probes (may be empty).
        every: evaluate after every `every` epochs, and after the last.

    Example:

    ```python
    curve = GroundTruthCurve(val_with_ids, track_truth("data/synthetic"), [], every=2)
    distiller.fit(train, epochs=10, steps_per_epoch=20, callbacks=[curve])
    curve.points[-1]["auc"]
    ```
    """

    def __init__(self, validation, truth, probe_sets=(), every: int = 1):
        super().__init__()
        self.validation = [(np.asarray(s), i.numpy()) for s, _, i in validation]
        self.truth = truth
        self.probe_sets = list(probe_sets)
        self.every = max(1, int(every))
        self.points: list[dict] = []

    def evaluate(self, student, epoch: int, steps: int) -> dict:
        """Scores `student` now and appends the point."""
        from kerasemo.models.calls import predict_batch

        logits, ids = [], []
        for spectrogram, track_ids in self.validation:
            logits.append(predict_batch(student, spectrogram))
            ids += [t.decode() for t in track_ids]
        scores = ground_truth_scores(self.truth, ids, np.concatenate(logits))
        point = {
            "epoch": epoch,
            "steps": steps,
            "auc": scores["mean_auc"],
            "accuracy": scores["accuracy"],
            "probe": {p.name: probe_accuracy(student, p) for p in self.probe_sets},
        }
        self.points.append(point)
        logger.info(
            "ground truth after %d steps: AUC %.3f, accuracy %.3f, probes %s",
            steps, point["auc"] or float("nan"), point["accuracy"],
            {k: round(v, 3) for k, v in point["probe"].items()},
        )
        return point

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.params.get("epochs"):
            student = getattr(self.model, "student", self.model)
            self.evaluate(student, done, done * int(self.params.get("steps") or 0))


def plot_learning_curves(curves: dict[str, list[dict]], path, *, teacher_auc: float | None = None, title: str = ""):
    """Ground-truth AUC and probe accuracy against SGD steps, one line per setting.

    Args:
        curves: setting name -> `GroundTruthCurve.points`.
        path: the PNG to write.
        teacher_auc: the teacher's (faces) ground-truth AUC, drawn as a reference line.
        title: figure title.

    Returns:
        The matplotlib `Figure` (also written to `path`).
    """
    from matplotlib.figure import Figure

    probe_names = sorted({n for points in curves.values() for p in points for n in p["probe"]})
    figure = Figure(figsize=(4.2 * (1 + len(probe_names)), 3.6), layout="constrained")
    axes = figure.subplots(1, 1 + len(probe_names), squeeze=False)[0]
    for name, points in curves.items():
        steps = [p["steps"] for p in points]
        axes[0].plot(steps, [p["auc"] for p in points], marker="o", label=name)
        for ax, probe in zip(axes[1:], probe_names):
            ax.plot(steps, [100 * p["probe"].get(probe, np.nan) for p in points], marker="o", label=name)
    if teacher_auc is not None:
        axes[0].axhline(teacher_auc, color="k", linestyle="--", linewidth=1, label="teacher (faces)")
    axes[0].axhline(0.5, color="grey", linestyle=":", linewidth=1)
    axes[0].set(xlabel="SGD steps", ylabel="mean ROC AUC", title="ground truth, unheard tracks")
    for ax, probe in zip(axes[1:], probe_names):
        ax.axhline(100 / 6, color="grey", linestyle=":", linewidth=1, label="chance")
        ax.set(xlabel="SGD steps", ylabel="accuracy, %", title=f"{probe}: linear probe, speaker folds")
    axes[0].legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.savefig(os.fspath(path), dpi=110)
    return figure


def above_chance_share(value: float | None, chance: float | None, reference: float | None) -> float | None:
    """How much of a reference's gain over chance `value` reaches: (v - c) / (r - c)."""
    if value is None or chance is None or reference is None or not reference > chance:
        return None
    return (value - chance) / (reference - chance)


def _paper_shares() -> dict[str, float]:
    from kerasemo.evaluation.probing import PAPER_TABLE5

    rml = {method: mean for method, (mean, _) in PAPER_TABLE5["rml"].items()}
    return {
        "share_of_acoustic": above_chance_share(rml["student"], rml["chance"], rml["acoustic"]),
        "share_of_teacher": above_chance_share(rml["student"], rml["chance"], rml["teacher"]),
    }


TRANSFER_YES = 0.5
"""Share of the acoustic baseline's above-chance accuracy from which transfer counts as shown."""
TRANSFER_PARTLY = 0.2
"""Share below which the student is taken to have learned (almost) nothing from the faces."""


def transfer_verdict(probe: dict, protocol: str = "speaker") -> dict:
    """Says in words whether emotion transferred, from the probe accuracies of the acted sets.

    The student is compared with chance and with the acoustic baseline (eGeMAPS + random forest)
    as the share of the baseline's above-chance accuracy it reaches, beside the paper's own
    standing on RML (Table 5: 0.68 of the acoustic baseline's, 0.59 of the teacher's).

    Args:
        probe: dataset -> method (``chance``, ``acoustic``, ``student``, ``teacher``) ->
            protocol -> ``(mean, std)`` accuracy in [0, 1] (or None).
        protocol: which folds to judge by (``speaker``: speaker-independent).

    Returns:
        ``{"transfer": "yes" | "partly" | "no", "sets": {...}, "paper": {...}, "sentences": [...]}``:
        "yes" when the student reaches `TRANSFER_YES` of the acoustic baseline's above-chance
        accuracy on every set, "partly" when it reaches `TRANSFER_PARTLY` on at least one.

    Example:

    >>> probe = {"rml": {"chance": {"speaker": (1/6, None)}, "acoustic": {"speaker": (0.6, 0.1)},
    ...                  "student": {"speaker": (0.5, 0.1)}}}
    >>> transfer_verdict(probe)["transfer"]
    'yes'
    """
    paper = _paper_shares()
    sets, sentences = {}, []
    for dataset, methods in probe.items():
        def mean_of(method):
            value = (methods.get(method) or {}).get(protocol)
            return None if value is None else value[0]

        row = {m: mean_of(m) for m in ("chance", "acoustic", "student", "teacher")}
        row["share_of_acoustic"] = above_chance_share(row["student"], row["chance"], row["acoustic"])
        row["share_of_teacher"] = above_chance_share(row["student"], row["chance"], row["teacher"])
        sets[dataset] = row
        if row["student"] is None:
            continue
        parts = [f"{dataset}: student {100 * row['student']:.1f} % vs chance {100 * row['chance']:.1f} %"]
        if row["acoustic"] is not None:
            parts.append(
                f"eGeMAPS + forest {100 * row['acoustic']:.1f} % (student at "
                f"{row['share_of_acoustic']:.2f} of its gain over chance; paper, RML: "
                f"{paper['share_of_acoustic']:.2f})"
            )
        if row["share_of_teacher"] is not None:
            parts.append(
                f"teacher on faces {100 * row['teacher']:.1f} % ({row['share_of_teacher']:.2f} of its "
                f"gain; paper: {paper['share_of_teacher']:.2f})"
            )
        sentences.append("; ".join(parts) + ".")
    shares = [r["share_of_acoustic"] for r in sets.values() if r["share_of_acoustic"] is not None]
    if shares and min(shares) >= TRANSFER_YES:
        verdict = "yes"
        sentences.insert(0, "Transfer happened: on every acted set the voice-only student, which never saw a "
                         "speech label, recovers at least half of what a supervised acoustic baseline gains over chance.")
    elif shares and max(shares) >= TRANSFER_PARTLY:
        verdict = "partly"
        sentences.insert(0, "Transfer happened in part: the student is above chance, but below half of the "
                         "acoustic baseline's gain on at least one set.")
    else:
        verdict = "no"
        sentences.insert(0, "No transfer shown: the student's probes are at (or near) chance.")
    return {"transfer": verdict, "sets": sets, "paper": paper, "sentences": sentences}


def plot_training_curve(history_csv, path, *, steps_per_epoch: int, title: str = ""):
    """The distillation's learning curve from its ``distiller_history.csv``: loss and teacher
    agreement on training and validation crops against SGD steps.

    Returns:
        The matplotlib `Figure` (also written to `path`).
    """
    import pandas as pd
    from matplotlib.figure import Figure

    history = pd.read_csv(history_csv)
    steps = (history["epoch"].to_numpy() + 1) * steps_per_epoch
    figure = Figure(figsize=(8.4, 3.4), layout="constrained")
    loss_ax, agree_ax = figure.subplots(1, 2)
    for key, label in (("distillation_loss", "training crops"), ("val_distillation_loss", "validation crops")):
        if key in history:
            loss_ax.plot(steps, history[key], marker=".", label=label)
    for key, label in (("teacher_agreement", "training crops"), ("val_teacher_agreement", "validation crops")):
        if key in history:
            agree_ax.plot(steps, 100 * history[key], marker=".", label=label)
    loss_ax.set(xlabel="SGD steps", ylabel="softened cross-entropy (T = 2)", title="distillation loss")
    agree_ax.set(xlabel="SGD steps", ylabel="%", title="student argmax = teacher argmax")
    loss_ax.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    figure.savefig(os.fspath(path), dpi=110)
    return figure
