"""`predict_batch`: one inference-mode call of a model, the same computation whatever came before."""

import weakref

import keras
import numpy as np

_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Each model's traced inference function (`_traced_call`), kept for the model's lifetime."""


def _traced_call(model):
    """A `tf.function` of ``model(x, training=False)`` with one input signature, or None.

    The signature is the model's own input shape with the batch axis (and any other axis the
    model leaves open, such as the student's time axis) unknown, so it is traced once and every
    later batch, of any length, runs the same graph. None when the backend is not TensorFlow or
    the model has no single symbolic input.
    """
    if model in _TRACED:
        return _TRACED[model]
    traced = None
    inputs = getattr(model, "inputs", None)
    if keras.backend.backend() == "tensorflow" and inputs and len(inputs) == 1:
        import tensorflow as tf

        shape = [None] + list(inputs[0].shape[1:])
        reference = weakref.ref(model)  # the cache must not keep the model alive
        traced = tf.function(
            lambda batch: reference()(batch, training=False),
            input_signature=[tf.TensorSpec(shape, inputs[0].dtype)],
            autograph=False,
        )
    _TRACED[model] = traced
    return traced


def predict_batch(model, inputs) -> np.ndarray:
    """Runs `model` on one batch in inference mode and returns float32 NumPy.

    Keras' ``predict_on_batch`` traces a function for every new input shape (so variable-length
    clips print "triggered tf.function retracing" warnings) and, after a few, relaxes the traced
    shape, which changes results in the last bits depending on what ran before. Here, on the
    TensorFlow backend, each model gets one `tf.function` traced for its own input signature
    (batch and open axes unknown), so every batch, whatever its length and whatever ran before,
    runs the same graph, at graph speed; other backends (and models without one symbolic input)
    are called directly.

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
    traced = _traced_call(model)
    if traced is None:
        outputs = model(inputs, training=False)
    else:
        outputs = traced(np.asarray(inputs, model.inputs[0].dtype))
    return np.asarray(keras.ops.convert_to_numpy(outputs), np.float32)
