"""`ShardWriter`: serialises examples and writes the shard files, in a thread of its own.

The single-machine builder sends it messages in the plan's order; it opens, fills and finishes
one `ShardFile` at a time, so the output order is the plan's whatever the timing. A failure
in the writer thread is re-raised in the sender's thread at its next message.

Example:

>>> writer = ShardWriter(out_dir, root, StageTimer(), inline=False)  # doctest: +SKIP
>>> writer.put(("open", shard_plan))  # doctest: +SKIP
>>> writer.put(("example", prepared))  # doctest: +SKIP
>>> writer.put(("close",))  # doctest: +SKIP
>>> writer.close()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import pathlib
import queue
import threading

from kerasemo.data.emovoxceleb.plan import ShardPlan
from kerasemo.data.emovoxceleb.prepare import PreparedTrack
from kerasemo.data.emovoxceleb.shards import ShardFile, serialize_track, track_record
from kerasemo.data.emovoxceleb.timing import StageTimer


class ShardWriter:
    """Serialises examples and writes shard files; runs in its own thread unless `inline`.

    Args:
        out_dir: the build folder.
        root: the corpus root (audio paths are kept relative to it).
        timer: the `StageTimer` receiving the ``write`` stage's busy time.
        inline: handle every message in the caller's thread (no writer thread).

    Attributes:
        finished: names of the shard files finished so far.
    """

    def __init__(self, out_dir: pathlib.Path, root: str, timer: StageTimer, *, inline: bool):
        self.out_dir = out_dir
        self.root = root
        self.timer = timer
        self.inline = inline
        self.error: BaseException | None = None
        self.finished: list[str] = []
        self._state: ShardFile | None = None
        if not inline:
            self._queue: queue.Queue = queue.Queue(maxsize=32)
            self._thread = threading.Thread(target=self._run, name="emovox-writer", daemon=True)
            self._thread.start()

    def put(self, message) -> None:
        """Queues one message (handles it at once if `inline`).

        Messages: ``("open", shard_plan)``, ``("example", prepared)``, ``("skip", track_id,
        reason, detail)``, ``("close",)``, and None (stop).

        Raises:
            RuntimeError: if the writer thread has failed (chained to its error).
        """
        if self.inline:
            self._handle(message)
            return
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(message, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Stops the thread after the queued work; re-raises its error, if any."""
        if not self.inline:
            self.put(None)
            self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Stops after the queued work, leaving the open shard unfinished (its .tmp stays)."""
        if not self.inline and self._thread.is_alive():
            self._queue.put(None)  # the thread keeps consuming (or draining after an error)
            self._thread.join()
        if self._state is not None and self._state.writer is not None:
            with contextlib.suppress(Exception):
                self._state.writer.close()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"Writing shards failed: {self.error}") from self.error

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            if self.error is not None:
                continue  # drain after a failure
            try:
                self._handle(message)
            except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
                self.error = err

    def _handle(self, message) -> None:
        kind = message[0]
        if kind == "open":
            self._open(message[1])
        elif kind == "example":
            with self.timer.time("write"):
                self._write_example(message[1])
        elif kind == "skip":
            self._state.skip(*message[1:])
        elif kind == "close":
            with self.timer.time("write"):
                self._close()
        else:  # pragma: no cover
            raise ValueError(f"unknown writer message {kind!r}")

    def _open(self, shard: ShardPlan) -> None:
        state = ShardFile(self.out_dir, shard.name)
        state.open()
        self._state = state

    def _write_example(self, prepared: PreparedTrack) -> None:
        self._state.add(serialize_track(prepared), track_record(prepared, self.root))

    def _close(self) -> None:
        self._state.finish()
        self.finished.append(self._state.name)
        self._state = None
