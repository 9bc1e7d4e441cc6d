"""Progress bars for library code: drawn on a terminal, never into a log file or a pipe.

Library functions take a ``progress`` flag and pass it to `progress_bar` as ``enabled``. A bar
that is enabled is still drawn only when its stream (standard error, tqdm's default) is a
terminal (tqdm's ``disable=None``), so a caller that leaves ``progress=True`` in a job whose
output is redirected gets no carriage-return lines in its log. `tqdm.auto` draws a widget in
a notebook instead.

Example:

>>> import io
>>> bar = progress_bar(range(3), enabled=True, file=io.StringIO())  # not a terminal
>>> bar.disable, list(bar)
(True, [0, 1, 2])
>>> progress_bar(total=3, enabled=False).disable
True
"""

from __future__ import annotations

from collections.abc import Iterable


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **tqdm_kwargs):
    """A tqdm bar over `iterable` (or one updated by hand), drawn only on a terminal.

    Args:
        iterable: what to iterate over; None for a bar driven by ``update`` (pass ``total``).
        enabled: False never draws the bar (a caller's ``progress=False``); True draws it when
            the bar's stream is a terminal.
        **tqdm_kwargs: any other `tqdm.tqdm` argument (``total``, ``desc``, ``unit``,
            ``leave``, ``file``, ...), except ``disable``, which `enabled` sets.

    Returns:
        A `tqdm.auto.tqdm`: iterate over it, or call ``update`` and ``close`` (or use it as a
        context manager).

    Example:

    >>> import io
    >>> class Terminal(io.StringIO):
    ...     def isatty(self):
    ...         return True
    >>> terminal = Terminal()
    >>> bar = progress_bar(total=2, enabled=True, file=terminal, desc="clips")
    >>> bar.update(2); bar.close()
    >>> "clips: 100%" in terminal.getvalue()
    True
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=None if enabled else True, **tqdm_kwargs)
