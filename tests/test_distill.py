"""The distill stage on small shards: outputs, best-model selection, resume after a crash, a
finished run kept, another run's directory refused."""

import json

import keras
import pandas as pd
import pytest

from kerasemo.config import apply_overrides, load_config
from kerasemo.experiments import distill as distill_cli
from kerasemo.training import distill
from shard_fixtures import TINY_DISTILL, write_distill_splits

TINY = TINY_DISTILL + ["distill.epochs=3"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_distill_splits(tmp_path_factory.mktemp("shards"))


def _experiment(*extra):
    return apply_overrides(load_config("demo"), TINY + list(extra))


def test_run_writes_student_reports_and_config(shards, tmp_path):
    result = distill(_experiment(), shards, tmp_path / "run", verbose=0)
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
        distill(
            _experiment(), shards, out, verbose=0, extra_callbacks=[_CrashAfterFirstEpoch()]
        )
    assert (out / "backup").exists()
    result = distill(_experiment(), shards, out, verbose=0)
    history = pd.read_csv(out / "distiller_history.csv")
    assert list(history["epoch"]) == [0, 1, 2]  # epoch 1 from the first run, 2-3 resumed
    assert result.epochs_run == 2
    assert not (out / "backup").exists()  # removed once training completes


def test_cli_reports_errors_without_tracebacks(shards, tmp_path):
    with pytest.raises(SystemExit, match="fewer than one batch"):
        distill_cli.main(["--data", str(shards), "--out", str(tmp_path), "--set", "distill.batch_size=64"])
    with pytest.raises(SystemExit, match="No train shards"):
        distill_cli.main(["--data", str(tmp_path / "none"), "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as info:
        distill_cli.main(["--help"])
    assert info.value.code == 0


def test_cli_runs_on_shards(shards, tmp_path, capsys):
    argv = ["--data", str(shards), "--out", str(tmp_path / "cli"), "--set", "distill.epochs=1"]
    for item in TINY[:-3]:
        argv += ["--set", item]
    assert distill_cli.main(argv) == 0
    assert "ROC AUC per emotion" in capsys.readouterr().out


def test_finished_run_is_kept_refused_for_other_settings_and_forced(shards, tmp_path, caplog):
    out = tmp_path / "run"
    first = distill(_experiment("distill.epochs=1"), shards, out, verbose=0)
    assert json.loads((out / "complete.json").read_text())["result"]["epochs_run"] == 1
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}

    with caplog.at_level("INFO"):
        again = distill(_experiment("distill.epochs=1"), shards, out, verbose=0)
    assert "finished" in caplog.text and again.skipped and not first.skipped
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == stamps
    assert (again.epochs_run, again.best_epoch, again.weights_sha256) == (
        first.epochs_run, first.best_epoch, first.weights_sha256)
    assert again.best_val_loss == pytest.approx(first.best_val_loss) and again.auc == first.auc

    with pytest.raises(ValueError, match=r"other settings \(distill\.epochs: 1 in the run, 2 now; "
                       r"distill\.momentum: 0\.9 in the run, 0\.5 now\).*--force"):
        distill(_experiment("distill.epochs=2", "distill.momentum=0.5"), shards, out, verbose=0)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == stamps

    forced = distill(_experiment("distill.epochs=2"), shards, out, verbose=0, force=True)
    assert forced.epochs_run == 2 and not forced.skipped
    assert list(pd.read_csv(out / "distiller_history.csv")["epoch"]) == [0, 1]  # not appended


def test_cli_keeps_a_finished_run_unless_forced(shards, tmp_path, capsys):
    argv = ["--data", str(shards), "--out", str(tmp_path / "cli")]
    for item in TINY[:-1] + ["distill.epochs=1"]:
        argv += ["--set", item]
    assert distill_cli.main(argv) == 0
    assert distill_cli.main(argv) == 0
    assert "finished before: kept as it was" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="error: .*distill.epochs: 1 in the run, 2 now"):
        distill_cli.main(argv + ["--set", "distill.epochs=2"])
    assert distill_cli.main(argv + ["--set", "distill.epochs=2", "--force"]) == 0
    assert "kept as it was" not in capsys.readouterr().out
