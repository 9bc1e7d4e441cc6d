"""Packages that load their names on first use: cheap to import, every public name still there."""

import importlib
import subprocess
import sys

import pytest

from kerasemo.lazy import lazy_exports

LAZY_PACKAGES = ("kerasemo.audio", "kerasemo.evaluation.probing")


def test_importing_the_packages_loads_no_keras_tensorflow_or_scikit_learn(tmp_path):
    code = (
        "import sys\n"
        "import kerasemo.audio, kerasemo.audio.reference, kerasemo.audio.decode\n"
        "import kerasemo.data.acted, kerasemo.evaluation.probing\n"
        "print('HEAVY', sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_is_its_home_modules_object(package):
    module = importlib.import_module(package)
    homes = vars(module)["_HOMES"]
    assert sorted(homes) == [name for name in module.__all__ if name in homes]
    for name, home in homes.items():
        assert getattr(module, name) is getattr(importlib.import_module(home, package), name), name
        assert name in vars(module)  # kept after the first use
    assert set(module.__all__) <= set(dir(module))


def test_names_with_their_modules_name_and_submodules_resolve():
    from kerasemo.audio import Resampler, resample
    from kerasemo.evaluation import probing
    from kerasemo.evaluation.probing import acoustic_features, load_probe_head, save_probe_head
    from kerasemo.models import probe_head

    assert callable(resample) and isinstance(Resampler, type)
    assert acoustic_features.__name__ == "kerasemo.evaluation.probing.acoustic_features"
    assert probing.run.__name__ == "kerasemo.evaluation.probing.run" and "folds" in dir(probing)
    assert (save_probe_head, load_probe_head) == (probe_head.save_probe_head, probe_head.load_probe_head)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    getattr_, dir_ = lazy_exports("kerasemo.audio", {"num_frames": ".reference"})
    assert getattr_("num_frames")(64384) == 400 and "reference" in dir_()
    with pytest.raises(AttributeError, match="module 'kerasemo.audio' has no attribute 'spectrogram'"):
        getattr_("spectrogram")
    with pytest.raises(ImportError):
        from kerasemo.evaluation.probing import no_such_name  # noqa: F401
