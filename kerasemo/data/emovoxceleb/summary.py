"""The report of a finished build: the dominant-emotion figure and ``summary.md``.

`plot_dominant` draws the dominant teacher emotion per labelled frame, per split (cf. paper
Figure 4); `summary_markdown` writes the per-split counts (cf. paper Table 3), the same
histogram as a table, and every skip and note of the scan, the planning and the processing.

Example:

>>> import tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "figure4.png"
>>> plot_dominant(path, {"train": [5, 1, 0, 0, 0, 0, 0, 2], "heard_val": [1, 0, 0, 0, 0, 0, 0, 0]})
>>> path.stat().st_size > 0
True
"""

from __future__ import annotations

import io
import pathlib

import numpy as np

from kerasemo import emotions
from kerasemo.data.emovoxceleb.files import write_atomic


def plot_dominant(path: pathlib.Path, dominant: dict[str, list[int]]) -> None:
    """Draws the dominant-emotion histogram (log scale, one bar group per class) as a PNG.

    Args:
        path: the PNG file (written atomically).
        dominant: ``{split: [frames per class]}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = emotions.CLASSES
    figure, axis = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(dominant)
    x = np.arange(len(classes))
    for i, (split, counts) in enumerate(dominant.items()):
        # Zero counts cannot be drawn on a log axis; they are left as gaps.
        values = np.where(np.asarray(counts) > 0, counts, np.nan)
        axis.bar(
            x + (i - (len(dominant) - 1) / 2) * width,
            values,
            width,
            label=f"{split} ({sum(counts):,} frames)",
        )
    axis.set_yscale("log")
    axis.set_ylim(bottom=0.8)  # a class seen once still shows a bar
    axis.set_xticks(
        x, [c.capitalize() for c in classes], rotation=30, ha="right", rotation_mode="anchor"
    )
    axis.set_ylabel("number of frames (log scale)")
    axis.set_title("Dominant teacher emotion per labelled frame (cf. paper Figure 4)")
    axis.grid(True, axis="y", which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_atomic(path, buffer.getvalue())


def summary_markdown(plan, table, dominant, processing_skips, notes) -> str:
    """The ``summary.md`` text of a finished build.

    Args:
        plan: the `BuildPlan` (layout, labeller, audio, shards, planning skips and notes).
        table: ``{split: {"identities", "tracks", "hours", "frames"}}`` plus ``"total"``.
        dominant: ``{split: [frames per class]}``.
        processing_skips: ``{reason: ["track_id: detail", ...]}``.
        notes: processing notes ``{note: count}``.
    """
    classes = emotions.CLASSES
    labeller = plan.fingerprint["labeller"]
    source = "teacher" if labeller["kind"] == "teacher" else "logits file"
    lines = [
        "# EmoVoxCeleb build summary",
        "",
        (
            f"Layout `{plan.info['layout']}`; labels from the {source} "
            f"(sha256 {labeller['id'][:12]}...); audio stored as {plan.fingerprint['audio']}; "
            f"{len(plan.shards)} shard files."
        ),
        "",
        "## Tracks per split (cf. paper Table 3)",
        "",
        "| split | identities | tracks | hours | labelled frames |",
        "|---|---:|---:|---:|---:|",
    ]
    for split, row in table.items():
        lines.append(
            f"| {split} | {row['identities']:,} | {row['tracks']:,} | {row['hours']:.3f} "
            f"| {row['frames']:,} |"
        )
    lines += [
        "",
        (
            "Paper (Table 3): train 118.5k, heard_val 4.5k, unheard_val 30.5k tracks; about "
            "5 million labelled frames (one every 0.24 s)."
        ),
        "",
        "## Dominant emotion per labelled frame (cf. paper Figure 4)",
        "",
        "| emotion | " + " | ".join(dominant) + " | share of all |",
        "|---|" + "---:|" * (len(dominant) + 1),
    ]
    total = sum(sum(v) for v in dominant.values()) or 1
    for c, name in enumerate(classes):
        values = [dominant[s][c] for s in dominant]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{v:,}" for v in values)
            + f" | {sum(values) / total:.2%} |"
        )
    scan_skipped = plan.scan.get("skipped", {})
    lines += ["", "## Skipped (never silently)", ""]
    for stage, items in (
        ("scan", scan_skipped),
        ("planning", {k: len(v) for k, v in plan.skipped.items()}),
        ("processing", {k: len(v) for k, v in processing_skips.items()}),
    ):
        text = ", ".join(f"{n} {r}" for r, n in sorted(items.items())) if items else "none"
        lines.append(f"- {stage}: {text}")
    all_notes = {**plan.scan.get("notes", {}), **plan.notes, **notes}
    if all_notes:
        lines.append("- notes: " + ", ".join(f"{n} {r}" for r, n in sorted(all_notes.items())))
    lines.append("")
    lines.append("Details and example items: build_report.json.")
    return "\n".join(lines) + "\n"
