"""The distill stage on small shards: outputs, best-model selection, resume after a crash."""

import json

import keras
import pandas as pd
import pytest

from kerasemo.config import apply_overrides, load_config
from kerasemo.experiments import distill
from shard_fixtures import TINY_DISTILL, write_distill_splits

TINY = TINY_DISTILL + ["distill.epochs=3"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_distill_splits(tmp_path_factory.mktemp("shards"))


def _experiment(*extra):
    return apply_overrides(load_config("demo"), TINY + list(extra))


def test_run_writes_student_reports_and_config(shards, tmp_path):
    result = distill.run_distillation(_experiment(), shards, tmp_path / "run", verbose=0)
    assert result.epochs_run == 3 and result.precision == "float32"
    student = keras.saving.load_model(result.student_path)
    assert student.output.shape[-1] == 8
    history = pd.read_csv(tmp_path / "run" / "distiller_history.csv")
    assert list(history["epoch"]) == [0, 1, 2]
    # The kept student is the one with the lowest unheard-val loss.
    assert result.best_val_loss == pytest.approx(history["val_loss"].min(), rel=1e-5)
    assert result.best_epoch == int(history["val_loss"].idxmin()) + 1
    auc = json.loads((tmp_path / "run" / "auc.json").read_text())
    assert {"heard_val", "unheard_val", "heard_minus_unheard"} <= set(auc)
    assert auc["unheard_val"]["num_tracks"] == 6 and auc["unheard_val"]["mean"] is not None
    assert "mean (included)" in (tmp_path / "run" / "auc.md").read_text()
    assert load_config(tmp_path / "run" / "config.toml").distill.batch_size == 4


class _CrashAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("simulated kill after epoch 1")


def test_interrupted_run_resumes_and_completes_the_same_epochs(shards, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        distill.run_distillation(
            _experiment(), shards, out, verbose=0, extra_callbacks=[_CrashAfterFirstEpoch()]
        )
    assert (out / "backup").exists()
    result = distill.run_distillation(_experiment(), shards, out, verbose=0)
    history = pd.read_csv(out / "distiller_history.csv")
    assert list(history["epoch"]) == [0, 1, 2]  # epoch 1 from the first run, 2-3 resumed
    assert result.epochs_run == 2
    assert not (out / "backup").exists()  # removed once training completes


def test_cli_reports_errors_without_tracebacks(shards, tmp_path):
    with pytest.raises(SystemExit, match="fewer than one batch"):
        distill.main(["--data", str(shards), "--out", str(tmp_path), "--set", "distill.batch_size=64"])
    with pytest.raises(SystemExit, match="No train shards"):
        distill.main(["--data", str(tmp_path / "none"), "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as info:
        distill.main(["--help"])
    assert info.value.code == 0


def test_cli_runs_on_shards(shards, tmp_path, capsys):
    argv = ["--data", str(shards), "--out", str(tmp_path / "cli"), "--set", "distill.epochs=1"]
    for item in TINY[:-3]:
        argv += ["--set", item]
    assert distill.main(argv) == 0
    assert "ROC AUC per emotion" in capsys.readouterr().out
