"""A normal (non-editable) wheel install works away from the checkout.

The wheel is built from a copy of the sources and installed with ``pip install --no-deps`` into a
fresh virtual environment whose dependencies come from this environment through a ``.pth`` file
(nothing is downloaded). Every command then runs from a folder outside the checkout with a clean
``PYTHONPATH``, and the test asserts that the installed ``kerasemo`` is the one imported: named
presets load, ``kerasemo --help`` and every stage's ``--help`` run, and ``kerasemo predict`` gives
a timeline for a generated clip with a student saved here. Nothing is written into the install.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import types
import zipfile

import pytest

pytestmark = pytest.mark.slow

CHECKOUT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "kerasemo")
SMALL_STUDENT = dict(
    input_bins=257, mirror_input=True, conv_filters=(8, 16, 16, 16, 16), fc6_units=32, fc7_units=16
)


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited with {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _build_wheel(root: pathlib.Path) -> pathlib.Path:
    """Builds the wheel from a clean copy of the sources (no stale build/ or egg-info)."""
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        path = CHECKOUT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = root / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--wheel-dir", str(dist), str(source)]
    )
    (wheel,) = dist.glob("kerasemo-*.whl")
    return wheel


def _make_venv(root: pathlib.Path) -> pathlib.Path:
    """A fresh virtual environment that sees this environment's packages, but not its editable
    kerasemo (a ``.pth`` path line adds the folder only; its own ``.pth`` hooks do not run)."""
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    site_packages = pathlib.Path(purelib.stdout.strip())
    here = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site_packages / "kerasemo_test_dependencies.pth").write_text("\n".join(here) + "\n")
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel, the venv it is installed in, and how to run commands there."""
    root = tmp_path_factory.mktemp("install")
    wheel = _build_wheel(root)
    venv = _make_venv(root)
    python = venv / "bin" / "python"
    _run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed"]
        + ["--disable-pip-version-check", str(wheel)]
    )
    work = root / "work"  # outside the checkout: the checkout's kerasemo cannot be on sys.path
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONNOUSERSITE="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )

    def run(*command):
        return _run(list(command), cwd=work, env=env)

    return types.SimpleNamespace(wheel=wheel, venv=venv, python=python, work=work, run=run)


def _package_files(venv: pathlib.Path) -> set[pathlib.Path]:
    (package,) = venv.glob("lib/python*/site-packages/kerasemo")
    return {p for p in package.rglob("*") if "__pycache__" not in p.parts}


def test_wheel_ships_the_presets_and_the_command(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = wheel.read(entry_points).decode()
    assert {"kerasemo/presets/paper.toml", "kerasemo/presets/demo.toml"} <= names
    assert {"kerasemo/cli.py", "kerasemo/__main__.py"} <= names
    assert not any(n.startswith(("tests/", "experiments/")) for n in names)
    assert "kerasemo = kerasemo.cli:main" in scripts
    assert (installed.venv / "bin" / "kerasemo").is_file()


def test_installed_package_is_imported_and_loads_the_presets(installed):
    code = (
        "import kerasemo, kerasemo.cli, kerasemo.config as c\n"
        "print(kerasemo.__file__)\n"
        "print(kerasemo.cli.__file__)\n"
        "print(c.PRESET_DIR)\n"
        "print(c.load_config('paper').name, c.load_config('demo').name, *c.available_presets())\n"
    )
    lines = installed.run(installed.python, "-c", code).stdout.splitlines()
    for line in lines[:3]:
        assert pathlib.Path(line).is_relative_to(installed.venv), line
        assert not pathlib.Path(line).is_relative_to(CHECKOUT), line
    assert lines[3].split()[:2] == ["paper", "demo"]
    assert {"paper", "demo"} <= set(lines[3].split()[2:])


def test_kerasemo_help_and_every_stage_help(installed):
    from kerasemo import cli

    listing = installed.run("kerasemo", "--help").stdout
    assert installed.run("kerasemo", "--version").stdout.strip().startswith("kerasemo ")
    for name in cli.stage_names():
        assert name in listing
        usage = installed.run("kerasemo", name, "--help").stdout
        assert usage.startswith("usage:"), (name, usage[:200])
        # A stage's default preset is listed in its --config help: the presets are found.
        if "--config" in usage:
            assert "demo" in usage and "paper" in usage, name
    # Underscore names and `python -m kerasemo` work from the install too.
    assert installed.run("kerasemo", "train_teacher", "--help").stdout.startswith("usage:")
    assert "stages:" in installed.run(installed.python, "-m", "kerasemo", "--help").stdout


def test_kerasemo_predict_on_a_generated_clip(installed):
    import keras
    import pandas
    import soundfile

    from kerasemo import emotions
    from kerasemo.audio.signals import speech_like_signal
    from kerasemo.models import VGGMStudent

    keras.utils.set_random_seed(0)
    student = installed.work / "student.keras"
    VGGMStudent(**SMALL_STUDENT).save(student)
    soundfile.write(installed.work / "talk.wav", speech_like_signal(6.0, seed=3), 16000)
    package_before = _package_files(installed.venv)

    predict = ["kerasemo", "predict", "talk.wav", "--model", "student.keras"]
    # Relative paths: into the working directory.
    installed.run(*predict, "--out", "results.parquet", "--timeline", "timeline.json")
    (row,) = pandas.read_parquet(installed.work / "results.parquet").to_dict("records")
    assert row["file"].endswith("talk.wav") and row["dominant"] in emotions.CLASSES
    assert abs(row["duration_s"] - 6.0) < 0.01
    document = json.loads((installed.work / "timeline.json").read_text())
    assert document["model_format"] == "keras"
    assert document["classes"] == list(emotions.CLASSES)
    (timeline,) = document["files"]
    assert len(timeline["windows"]) >= 2
    assert set(timeline["windows"][0]["probabilities"]) == set(emotions.CLASSES)
    # Outputs go to the working directory, never into the installed package.
    assert _package_files(installed.venv) == package_before
