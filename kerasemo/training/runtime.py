"""Where and how a stage runs: seeds and determinism, the accelerator, the dtype policy."""

from __future__ import annotations

from kerasemo.checks import check_choice

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def enable_determinism(seed: int) -> None:
    """Seeds every generator and makes TensorFlow's ops deterministic, for reproducible runs.

    Calls `keras.utils.set_random_seed` and, on the TensorFlow backend,
    `tf.config.experimental.enable_op_determinism` (process-wide and permanent: kernels that
    have no deterministic implementation then raise instead of running). Input pipelines must
    also keep their order (``deterministic=True`` in `kerasemo.data.pipeline`). On x86 CPUs,
    oneDNN's threaded convolutions are not bitwise repeatable at every size even so: set
    ``TF_ENABLE_ONEDNN_OPTS=0`` before TensorFlow is imported for bit-identical runs.

    Args:
        seed: the run's seed.

    Example:

    >>> enable_determinism(0)  # doctest: +SKIP
    """
    import keras

    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def accelerator_available() -> bool:
    """True when the Keras backend sees a GPU or TPU.

    Example:

    >>> accelerator_available() in (True, False)
    True
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))
    if backend == "jax":
        import jax

        return any(d.platform != "cpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def resolve_precision(precision: str) -> str:
    """Maps ``auto`` to ``mixed_float16`` on an accelerator and ``float32`` on CPU.

    Args:
        precision: one of `PRECISIONS`.

    Returns:
        A Keras dtype policy name.

    Raises:
        ValueError: for a name outside `PRECISIONS`.

    Example:

    >>> resolve_precision("float32")
    'float32'
    """
    if check_choice(precision, "precision", PRECISIONS) != "auto":
        return precision
    return "mixed_float16" if accelerator_available() else "float32"
