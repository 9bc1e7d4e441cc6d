"""The ONNX export: front-end + student as one float32 ONNX model, run with ONNX Runtime.

`export_onnx` writes `build_waveform_model` (the training front-end, the student and the three
named outputs) as one ONNX graph and measures its parity with the float32 Keras model through
ONNX Runtime. The model takes ``waveform`` ``[batch, samples]`` float32 (16 kHz mono) with a
variable time axis by default (clips shorter than `MIN_SAMPLES` are zero-padded to it inside
the graph), or one fixed window; it returns ``logits``, ``probabilities`` and ``embedding``,
each ``[batch, 8]``. Unlike the SavedModel, it does not reject NaN/Inf samples (its outputs are
then NaN). It needs the ``onnx`` extra: ``pip install 'kerasemo[onnx]'`` (tf2onnx, onnx,
onnxruntime).

How: tf2onnx converts a traced `tf.function` of the Keras model, with the variables frozen.
Every op of the front-end and student maps to an ONNX op except the spectrum: tf2onnx 1.17
converts TensorFlow's ``RFFT`` only when ``ComplexAbs`` (``tf.abs``) is its one consumer, while
the front-end takes the real and imaginary parts (``keras.ops.rfft`` returns both); tf2onnx
then logs ``Current implementation of RFFT or FFT only allows ComplexAbs as consumer not
{'Imag', 'Real'}``, leaves ``RFFT``, ``Real`` and ``Imag`` unconverted and writes a model that
ONNX Runtime refuses. This module converts those three ops itself (`ONNX_OP_HANDLERS`):
``RFFT`` becomes the ONNX ``DFT`` op (opset >= 17, ``onesided=1``) on the frames as
``[..., n, 1]``, which returns ``[..., n // 2 + 1, 2]``, and ``Real``/``Imag`` take entry 0/1
of the last axis with ``Gather``. ONNX Runtime computes that DFT with an FFT in float32.

Example:

>>> report = export_onnx(student, "saved_models/kerasemo/kerasemo.onnx")  # doctest: +SKIP
>>> report["parity"]["overall"]["max_abs_probability"] <= PARITY_TOLERANCE  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from kerasemo.audio.reference import SAMPLE_RATE
from kerasemo.checks import check_positive_int
from kerasemo.export.contract import MIN_SAMPLES, OUTPUT_NAMES, ExportError
from kerasemo.export.parity import worst_case, compare_outputs, keras_reference, speech_like_clips
from kerasemo.export.saved_model import pad_time
from kerasemo.export.waveform_model import build_waveform_model
from kerasemo.export.window import model_window

__all__ = [
    "DEFAULT_OPSET",
    "INPUT_NAME",
    "MIN_OPSET",
    "ONNX_FILENAME",
    "ONNX_OP_HANDLERS",
    "export_onnx",
    "onnx_session",
    "run_onnx",
]

logger = logging.getLogger("kerasemo.export")

ONNX_FILENAME = "kerasemo.onnx"
"""File name of the ONNX model inside an export folder."""
MIN_OPSET = 17
"""The first ONNX opset with the ``DFT`` op the spectrum needs."""
DEFAULT_OPSET = MIN_OPSET
"""The ONNX opset written by default (the oldest that works: the most runtimes load it)."""
INPUT_NAME = "waveform"
"""The model's one input, ``[batch, samples]`` float32."""
BATCH_AXIS = "batch"
TIME_AXIS = "samples"
"""Names of the model's open axes (ONNX ``dim_param``), as ONNX Runtime reports them."""
INSTALL_HINT = "pip install 'kerasemo[onnx]'"
PARITY_CLIPS = 3
"""Speech-like clips per parity case."""
SHORT_CLIP_SAMPLES = int(0.3 * SAMPLE_RATE)
LONG_CLIP_SAMPLES = 10 * SAMPLE_RATE
"""Clip lengths of the variable-length parity cases besides the window (0.3 s is padded)."""


def _require_onnx() -> tuple[Any, Any, Any]:
    """Imports tf2onnx, onnx and onnxruntime, or raises ExportError with the install hint."""
    try:
        import onnx
        import onnxruntime
        import tf2onnx
    except ImportError as err:
        raise ExportError(
            f"The ONNX export needs tf2onnx, onnx and onnxruntime ({err}); install them with "
            f"`{INSTALL_HINT}`."
        ) from err
    return tf2onnx, onnx, onnxruntime


def _check_window(window_samples: int | None) -> None:
    """Raises ValueError unless `window_samples` is None or an integer >= `MIN_SAMPLES`."""
    if window_samples is None:
        return
    if check_positive_int(window_samples, "window_samples") < MIN_SAMPLES:
        raise ValueError(
            f"`window_samples` must be at least {MIN_SAMPLES} (the student's shortest input) or "
            f"None (any length); received window_samples={window_samples}."
        )


def _check_opset(opset: int | None, tf2onnx: Any) -> int:
    """`opset` if it has DFT and tf2onnx writes it (ValueError otherwise); None: the default."""
    if opset is None:
        return DEFAULT_OPSET
    check_positive_int(opset, "opset")
    newest = max(tf2onnx.constants.OPSET_TO_IR_VERSION)
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"`opset` must be in [{MIN_OPSET}, {newest}]: the spectrum needs the ONNX DFT op "
            f"(opset {MIN_OPSET}+) and tf2onnx {tf2onnx.__version__} writes opsets up to "
            f"{newest}; received opset={opset}."
        )
    return int(opset)


# --------------------------------------------------------------------------------------------
# tf2onnx handlers for the spectrum (the old handler API: handler(ctx, node, name, args)).


def _const(graph: Any, prefix: str, value: np.ndarray) -> str:
    from tf2onnx import utils

    return graph.make_const(utils.make_name(prefix), value).output[0]


def _convert_rfft(graph: Any, node: Any, name: str, args: list) -> Any:
    """TensorFlow ``RFFT`` (last axis, constant length) -> ONNX ``DFT`` with ``onesided=1``.

    The real input ``[..., n]`` is unsqueezed to ``[..., n, 1]``; the output
    ``[..., fft_length // 2 + 1, 2]`` holds the real and imaginary parts on its last axis,
    which `_convert_part` reads. Raises ValueError (tf2onnx logs it; `export_onnx` reports it)
    for a consumer other than ``Real``/``Imag``, an input of unknown rank or a non-constant
    length.
    """
    from onnx import TensorProto

    consumers = {consumer.type for consumer in graph.find_output_consumers(node.output[0])}
    if not consumers <= {"Real", "Imag"}:
        raise ValueError(
            f"RFFT {name!r} feeds {sorted(consumers)}; the DFT conversion supports Real and Imag."
        )
    shape = graph.get_shape(node.input[0])
    length = node.inputs[1]
    if shape is None or not length.is_const():
        raise ValueError(f"RFFT {name!r} needs an input of known rank and a constant fft_length.")
    fft_length = int(np.asarray(length.get_tensor_value(as_list=False)).reshape(-1)[0])
    rank = len(shape)
    signal = graph.make_node(
        "Unsqueeze", [node.input[0], _const(graph, "rfft_axis", np.array([rank], np.int64))]
    ).output[0]
    outputs = list(node.output)
    graph.remove_node(node.name)
    return graph.make_node(
        "DFT",
        [signal, _const(graph, "rfft_length", np.array(fft_length, np.int64))],
        attr={"onesided": 1, "axis": rank - 1},
        outputs=outputs,
        shapes=[list(shape[:-1]) + [fft_length // 2 + 1, 2]],
        dtypes=[TensorProto.FLOAT],
    )


def _convert_part(graph: Any, node: Any, name: str, args: list) -> Any:
    """``Real``/``Imag`` of a converted RFFT -> ``Gather`` of entry 0/1 of the last axis."""
    from onnx import TensorProto

    index = {"Real": 0, "Imag": 1}[node.type]
    source = node.input[0]
    shape = graph.get_shape(source)
    outputs = list(node.output)
    graph.remove_node(node.name)
    return graph.make_node(
        "Gather",
        [source, _const(graph, f"{name}_index", np.array(index, np.int64))],
        attr={"axis": -1},
        outputs=outputs,
        shapes=[None if shape is None else list(shape[:-1])],
        dtypes=[TensorProto.FLOAT],
    )


def _convert_log1p(graph: Any, node: Any, name: str, args: list) -> Any:
    """``Log1p`` (the student's ``log_magnitude`` option) -> ONNX ``Log(x + 1)``.

    ONNX has no ``log1p``; ``log(1 + x)`` loses no precision that matters here because the
    input is a magnitude of int16-scale audio (>= 0, mostly >> 1).
    """
    from onnx import TensorProto

    shifted = graph.make_node(
        "Add", [node.input[0], _const(graph, f"{name}_one", np.array(1.0, np.float32))]
    ).output[0]
    shape = graph.get_shape(node.input[0])
    outputs = list(node.output)
    graph.remove_node(node.name)
    return graph.make_node(
        "Log", [shifted], outputs=outputs, shapes=[shape], dtypes=[TensorProto.FLOAT]
    )


ONNX_OP_HANDLERS = {
    "RFFT": (_convert_rfft, []),
    "Real": (_convert_part, []),
    "Imag": (_convert_part, []),
    "Log1p": (_convert_log1p, []),
}
"""tf2onnx ``custom_op_handlers`` for the ops tf2onnx does not convert in kerasemo's models."""


# --------------------------------------------------------------------------------------------
# Conversion.


class _ErrorLog(logging.Handler):
    """Collects the errors tf2onnx logs (it converts with ``continue_on_error=True``)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().splitlines()[0]
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message}: {record.exc_info[1]}"
        self.messages.append(message)


@contextlib.contextmanager
def _tf2onnx_errors() -> Iterator[list[str]]:
    """Collects the error messages tf2onnx logs inside the block (and hides its INFO lines)."""
    log = _ErrorLog()
    tf2onnx_logger = logging.getLogger("tf2onnx")
    level = tf2onnx_logger.level
    tf2onnx_logger.setLevel(logging.WARNING)  # its per-pass INFO lines are not for our users
    tf2onnx_logger.addHandler(log)
    try:
        yield log.messages
    finally:
        tf2onnx_logger.removeHandler(log)
        tf2onnx_logger.setLevel(level)


def _unconverted_ops(proto: Any) -> list[str]:
    """``"name (type)"`` of each node whose op is not an ONNX op (left over from TensorFlow)."""
    import onnx

    return [
        f"{node.name} ({node.op_type})"
        for node in proto.graph.node
        if not onnx.defs.has(node.op_type, node.domain)
    ]


def _name_open_axes(proto: Any) -> None:
    """Names the open axes: the batch of every input and output, the time axis of the input."""
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for index, dim in enumerate(dims):
            if not dim.HasField("dim_value"):
                dim.dim_param = BATCH_AXIS if index == 0 else TIME_AXIS


def _convert(model: Any, window_samples: int | None, opset: int) -> Any:
    """The ONNX ModelProto of `model`, with short clips padded when the length is open.

    Raises:
        ExportError: naming the ops tf2onnx left unconverted and the errors it logged.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    def serve(waveform):
        if window_samples is None:
            waveform = pad_time(waveform, MIN_SAMPLES)
        return model(waveform, training=False)

    signature = [tf.TensorSpec([None, window_samples], tf.float32, name=INPUT_NAME)]
    with _tf2onnx_errors() as errors:
        proto, _ = tf2onnx.convert.from_function(
            tf.function(serve), signature, opset=opset, custom_op_handlers=ONNX_OP_HANDLERS
        )
    unconverted = _unconverted_ops(proto)
    if unconverted:
        raise ExportError(
            f"tf2onnx {tf2onnx.__version__} (opset {opset}) could not convert "
            f"{', '.join(unconverted)}. tf2onnx reported: {'; '.join(errors) or 'nothing'}."
        )
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise ExportError(f"The converted ONNX model is invalid: {err}") from err
    _name_open_axes(proto)
    return proto


def onnx_session(path: str | os.PathLike, num_threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session on an exported model.

    Args:
        path: the ``.onnx`` file.
        num_threads: intra-op threads (None: ONNX Runtime's default, one per physical core).

    Returns:
        An ``onnxruntime.InferenceSession``.

    Raises:
        ExportError: if onnxruntime is missing or cannot load the file.

    Example:

    >>> session = onnx_session("saved_models/kerasemo/kerasemo.onnx")  # doctest: +SKIP
    """
    _, _, onnxruntime = _require_onnx()
    options = onnxruntime.SessionOptions()
    if num_threads is not None:
        options.intra_op_num_threads = check_positive_int(num_threads, "num_threads")
    try:
        return onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    except Exception as err:  # onnxruntime raises its own exception types
        raise ExportError(f"ONNX Runtime could not load '{path}': {err}") from err


def run_onnx(session: Any, waveforms: np.ndarray) -> dict[str, np.ndarray]:
    """Runs ``[n, samples]`` float32 waveforms through an exported model.

    Args:
        session: an `onnx_session`.
        waveforms: ``[n, samples]`` array (one length per call; a fixed-window model takes
            exactly its window).

    Returns:
        ``{"logits", "probabilities", "embedding"}`` arrays ``[n, 8]`` float32.

    Example:

    >>> run_onnx(session, np.zeros((2, 64384), "float32"))["probabilities"].shape  # doctest: +SKIP
    (2, 8)
    """
    names = [output.name for output in session.get_outputs()]
    outputs = session.run(names, {INPUT_NAME: np.asarray(waveforms, dtype=np.float32)})
    by_name = dict(zip(names, outputs))
    return {name: by_name[name] for name in OUTPUT_NAMES}


def _parity_cases(window_samples: int, variable_length: bool) -> dict[str, int]:
    """``{case: clip length}``: the window, and for an open time axis a short and a long clip."""
    cases = {"speech_window": window_samples}
    if variable_length:
        cases.update({"speech_0.3s": SHORT_CLIP_SAMPLES, "speech_10s": LONG_CLIP_SAMPLES})
    return cases


def _parity(model: Any, session: Any, cases: Mapping[str, int]) -> dict[str, dict[str, float]]:
    """`compare_outputs` of ONNX Runtime against Keras per case, and ``"overall"`` (the worst)."""
    report = {}
    for index, (case, samples) in enumerate(cases.items()):
        waveforms = speech_like_clips(PARITY_CLIPS, samples, seed=1000 + 100 * index)
        report[case] = compare_outputs(
            keras_reference(model, waveforms), run_onnx(session, waveforms)
        )
    report["overall"] = worst_case(report.values())
    return report


def export_onnx(
    student: Any,
    path: str | os.PathLike,
    window_samples: int | None = None,
    *,
    opset: int | None = None,
) -> dict[str, Any]:
    """Writes front-end + student as a float32 ONNX model and measures its parity with Keras.

    Args:
        student: a `VGGMStudent` (rebuilt in float32 if it is mixed precision, and for the
            length asked if it was built for fixed crops).
        path: the ``.onnx`` file to write (its folder is created; an existing file is replaced).
        window_samples: None (default) for a variable time axis (any length; clips shorter
            than `MIN_SAMPLES` are zero-padded in the graph), or a fixed window in samples
            (at least `MIN_SAMPLES`).
        opset: ONNX opset: None for `DEFAULT_OPSET` (17), or from `MIN_OPSET` (17, the first
            with DFT) to the newest the installed tf2onnx writes (18 for tf2onnx 1.17).

    Returns:
        ``path``, ``bytes``, ``opset``, ``input_shape`` (``["batch", "samples"]`` or
        ``["batch", window]``), ``window_samples`` (the window the parity was measured on:
        `window_samples`, else the student's own, `model_window`), ``conversion_seconds``,
        ``versions`` (tf2onnx, onnx, onnxruntime) and ``parity``: ``{case: compare_outputs(...)}``
        against the float32 Keras model on `speech_like_clips` (the window; for a variable
        time axis also 0.3 s and 10 s clips) and ``"overall"``, the worst of each figure.
        Float32 parity is expected within `PARITY_TOLERANCE` (`within_tolerance`).

    Raises:
        ExportError: if tf2onnx, onnx or onnxruntime is missing (``pip install
            'kerasemo[onnx]'``), or conversion fails (naming the ops left unconverted).
        ValueError: for a window shorter than `MIN_SAMPLES` or an unsupported opset.

    Example:

    >>> report = export_onnx(student, "kerasemo.onnx")  # doctest: +SKIP
    >>> report["input_shape"], report["parity"]["overall"]["max_rel_logit"] < 1e-4  # doctest: +SKIP
    (['batch', 'samples'], True)
    """
    tf2onnx, onnx, onnxruntime = _require_onnx()
    opset = _check_opset(opset, tf2onnx)
    _check_window(window_samples)
    model = build_waveform_model(student, window_samples)
    start = time.perf_counter()
    proto = _convert(model, window_samples, opset)
    seconds = time.perf_counter() - start
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    logger.info("Wrote the ONNX model (opset %d) to %s in %.1f s", opset, path, seconds)
    parity_window = window_samples if window_samples is not None else model_window(student).samples
    parity = _parity(
        model, onnx_session(path), _parity_cases(parity_window, window_samples is None)
    )
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "opset": opset,
        "input_shape": [BATCH_AXIS, TIME_AXIS if window_samples is None else window_samples],
        "window_samples": parity_window,
        "conversion_seconds": seconds,
        "versions": {
            "tf2onnx": tf2onnx.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "parity": parity,
    }
