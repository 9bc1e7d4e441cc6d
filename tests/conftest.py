"""Test-suite set-up: CPU only, TensorFlow backend, quiet logs, seeded.

The environment variables must be set before TensorFlow or Keras is first imported, which is
why they live at the top of this module (pytest imports it before any test module).
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_reset_keras():
    """Seeds Keras/NumPy/TF and restores the float32 dtype policy around every test.

    (No `keras.backend.clear_session()` here: it costs about 0.35 s per test.)
    """
    import keras

    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
