"""A finished run's record: ``complete.json`` with the resolved configuration and the result.

A stage writes the record last, so a run directory that holds it is finished: rerunning the
same configuration finds it and skips, and a different configuration is refused with the
settings that differ named, rather than mixing two runs in one directory.

Example:

>>> import tempfile
>>> from kerasemo.config import apply_overrides, load_config
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> write_record(out, load_config("demo"), {"epochs_run": 20}).name
'complete.json'
>>> read_record(out)["result"]
{'epochs_run': 20}
>>> config_differences(read_record(out)["config"], apply_overrides(load_config("demo"), ["distill.epochs=3"]))
['distill.epochs: 20 in the run, 3 now']
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

from kerasemo import config as config_lib

COMPLETE = "complete.json"
DISTILL_SETTINGS = ("seed", "frontend.", "student.", "frames.", "distill.", "evaluation.auc_excluded")
"""The settings a distillation run depends on (prefixes of flattened keys); the teacher, the
splits and the probes act through the shards or after the run."""


def _flatten(mapping: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _plain(experiment: config_lib.ExperimentConfig) -> dict:
    """The configuration as JSON values (tuples as lists), comparable after a round trip."""
    return json.loads(json.dumps(dataclasses.asdict(experiment)))


def write_record(out_dir: str | pathlib.Path, experiment: config_lib.ExperimentConfig, result: dict) -> pathlib.Path:
    """Writes ``complete.json`` (the configuration and `result`) in `out_dir`; returns its path.

    Args:
        out_dir: the finished run's directory.
        experiment: the resolved configuration the run used.
        result: JSON-serialisable figures of the run.
    """
    path = pathlib.Path(out_dir) / COMPLETE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"config": _plain(experiment), "result": result}, indent=2))
    tmp.replace(path)
    return path


def read_record(out_dir: str | pathlib.Path) -> dict | None:
    """The ``complete.json`` of `out_dir` as a dict, or None when the run is not finished."""
    path = pathlib.Path(out_dir) / COMPLETE
    return json.loads(path.read_text()) if path.exists() else None


def config_differences(
    recorded: dict, experiment: config_lib.ExperimentConfig, keys=DISTILL_SETTINGS
) -> list[str]:
    """The settings (among `keys`) where `experiment` differs from a recorded configuration.

    Args:
        recorded: the ``config`` of a record (`read_record`).
        experiment: the configuration of the new call.
        keys: flattened key names or prefixes (ending in ``.``) to compare.

    Returns:
        One ``"key: <recorded> in the run, <new> now"`` line per differing setting, sorted.
    """
    old, new = _flatten(recorded), _flatten(_plain(experiment))

    def compared(key):
        return any(key == k or (k.endswith(".") and key.startswith(k)) for k in keys)

    names = sorted(k for k in set(old) | set(new) if compared(k) and old.get(k) != new.get(k))
    return [f"{k}: {old.get(k)!r} in the run, {new.get(k)!r} now" for k in names]


def saved_config_differences(
    out_dir: str | pathlib.Path, experiment: config_lib.ExperimentConfig, keys=DISTILL_SETTINGS
) -> list[str]:
    """`config_differences` against the ``config.toml`` a run saved when it started (if any)."""
    saved = pathlib.Path(out_dir) / "config.toml"
    if not saved.exists():
        return []
    return config_differences(_plain(config_lib.load_config(saved)), experiment, keys)
