"""Loading TensorFlow without its native start-up lines on the terminal.

TensorFlow's C++ runtime writes informational lines to the process's stderr before its own
logging is configured (oneDNN notices, "Could not find cuda drivers", CPU feature hints, a
``cuInit`` error on machines without a GPU). ``TF_CPP_MIN_LOG_LEVEL`` does not reach them, and
Python's ``sys.stderr`` never sees them: they go straight to file descriptor 2. The entry points
therefore import TensorFlow through `import_tensorflow_quietly`, which points descriptor 2 at a
temporary file while TensorFlow loads and finds its devices, then writes back every captured line
that is not one of those notices. It also runs one float16 cast inside that window, because
oneDNN announces once per process, at the first float16 op (reading the float16 shards), that it
supports that type only with AVX-512. Set ``KERASEMO_TF_LOGS=1`` to see everything.

Library code never calls this: importing kerasemo does not touch a program's file descriptors.

Example:

>>> tf = import_tensorflow_quietly()  # doctest: +SKIP
>>> is_start_up_notice("I0000 00:00:17 1 port.cc:153] oneDNN custom operations are on.")
True
>>> is_start_up_notice("Traceback (most recent call last):")
False
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

SHOW_ENV = "KERASEMO_TF_LOGS"
"""Environment variable: set to 1 to let TensorFlow's native start-up lines through."""

# Glog-style informational/warning/error lines of the C++ runtime ("I0000 00:00:... file.cc:N]"),
# absl's pre-initialisation banner, and the continuation line of the CPU-feature notice.
_NOTICE = re.compile(
    r"^(?:[IWE]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w.]+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions:)"
)


def is_start_up_notice(line: str) -> bool:
    """Whether `line` is one of TensorFlow's native start-up notices (see the module docstring).

    Args:
        line: one line of captured stderr.
    """
    return bool(_NOTICE.match(line))


@contextlib.contextmanager
def _native_stderr_filtered():
    """Captures file descriptor 2 for the block, then re-emits the lines that are not notices."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. some notebooks)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not is_start_up_notice(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def import_tensorflow_quietly(run_first_op: bool = True):
    """Imports TensorFlow (and lets it find its devices) without its native start-up notices.

    Args:
        run_first_op: also run the one float16 op whose notice would come later (see the module
            docstring). False in a process that must still create a multi-worker strategy:
            collective ops are configured only before TensorFlow runs its first op.

    Returns:
        The `tensorflow` module.

    Anything else written to stderr meanwhile (warnings, errors) is written back afterwards.
    With ``KERASEMO_TF_LOGS=1`` in the environment nothing is filtered.
    """
    if "tensorflow" in sys.modules or os.environ.get(SHOW_ENV, "") not in ("", "0"):
        import tensorflow as tf

        return tf
    with _native_stderr_filtered():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe (and its cuInit error) happens here
        if run_first_op:
            # oneDNN's once-per-process "supports DT_HALF only on platforms with AVX-512" notice
            # comes with the first float16 op (the shards store float16 spectrograms): run one.
            tf.cast(tf.zeros([1], tf.float16), tf.float32)
    return tf
