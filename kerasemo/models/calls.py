"""`predict_batch`: one inference-mode call of a model, the same computation whatever came before."""

import keras
import numpy as np


def predict_batch(model, inputs) -> np.ndarray:
    """Runs `model` on one batch in inference mode and returns float32 NumPy.

    Keras' ``predict_on_batch`` traces a function for every new input shape (so variable-length
    clips print "triggered tf.function retracing" warnings) and, after a few, relaxes the traced
    shape, which changes results in the last bits depending on what ran before. A direct call
    computes every batch the same way, whatever its length and whatever ran before.

    Args:
        model: a Keras model.
        inputs: a batch (NumPy array or tensor) the model accepts.

    Returns:
        The model's output as a float32 `numpy.ndarray`.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> predict_batch(model, np.zeros((4, 3), "float32")).shape
    (4, 2)
    """
    return np.asarray(keras.ops.convert_to_numpy(model(inputs, training=False)), np.float32)
