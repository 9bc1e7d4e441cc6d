"""Progress bars of library code are drawn on a terminal only, and never when turned off."""

import io

import pytest

from kerasemo.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "stream, enabled, drawn",
    [(_Terminal, True, True), (_Terminal, False, False), (io.StringIO, True, False)],
    ids=["terminal", "turned-off", "redirected"],
)
def test_a_bar_is_drawn_only_when_enabled_on_a_terminal(stream, enabled, drawn):
    out = stream()
    items = list(progress_bar(range(5), enabled=enabled, file=out, desc="clips", unit="clip"))
    assert items == [0, 1, 2, 3, 4]
    assert ("clips: 100%" in out.getvalue()) is drawn
    assert (out.getvalue() == "") is not drawn


def test_a_bar_updated_by_hand_takes_tqdm_arguments():
    out = _Terminal()
    with progress_bar(total=4, enabled=True, file=out, desc="files", unit="file") as bar:
        bar.update(3)
    assert bar.total == 4 and bar.n == 3
    assert "files:  75%" in out.getvalue() and "3/4" in out.getvalue()


def test_disable_is_set_by_enabled_only():
    with pytest.raises(TypeError, match="disable"):
        progress_bar(range(2), disable=False)
