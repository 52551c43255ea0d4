"""PickleChild with a real child process: requests sent ahead of the earlier replies are
answered in order, and a request too big to go ahead is refused rather than sent into a pipe
the child, busy writing a large reply, does not read (both ends would block for ever)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.child_process import REPLY_PIPE_BYTES, PickleChild

ECHO = """
import sys
from pathlib import Path
from engine.child_process import serve_stdio

def answer(request):
    if isinstance(request, int):
        return b"x" * request  # a reply of that many bytes
    if isinstance(request, str):
        Path(request).touch()  # a request seen from outside once the child took it
        return request
    return len(request)  # the size of a request

if __name__ == "__main__":
    serve_stdio(answer)
"""


@pytest.fixture
def child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "echo_child.py").write_text(ECHO)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "lib"))
    proc = PickleChild("echo_child", [])
    yield proc
    proc.close()


def _within(seconds: float, work: Callable[[], None]) -> None:
    """Run ``work`` in a thread; fail (not hang) if it blocks past ``seconds``."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked: a request and a reply each waited for the other"
    if errors:
        raise errors[0]


def test_replies_come_in_the_order_of_the_requests_sent_ahead(child: PickleChild) -> None:
    def work() -> None:
        assert child.send(3)
        assert child.send(5, ahead=True)
        assert child.receive() == b"xxx"
        assert child.send(b"abcd", ahead=True)
        assert child.receive() == b"xxxxx"
        assert child.receive() == 4
        assert child.call(2) == b"xx"

    _within(10, work)


def test_a_request_too_big_to_go_ahead_is_refused_until_the_reply_is_read(
    child: PickleChild,
) -> None:
    """The child's reply (4 MiB) is far bigger than its pipe: it blocks writing it until
    this side reads. A 1 MiB request sent meanwhile would block this side too."""
    big = b"r" * (1 << 20)

    def work() -> None:
        assert child.send(4 << 20)
        assert child.send(big, ahead=True) is False  # not sent: no deadlock
        assert child.send(b"small", ahead=True) is True  # fits the pipe: sent
        assert len(child.receive()) == 4 << 20
        assert child.receive() == 5
        assert child.send(big)  # nothing pending: sent whole, however big
        assert child.receive() == 1 << 20

    _within(20, work)


def test_a_child_takes_the_request_sent_ahead_while_its_larger_reply_is_unread(
    child: PickleChild, tmp_path: Path
) -> None:
    """A reply of ~200 KB (a reader worker's to a batch of 256 small files is ~90 KB) is
    more than a pipe holds by default (64 KiB); the reply pipe is widened, so the child
    writes it whole and goes on to the next request before this side reads anything."""
    import fcntl
    import time

    assert fcntl.fcntl(child.proc.stdout.fileno(), fcntl.F_GETPIPE_SZ) >= REPLY_PIPE_BYTES
    marker = tmp_path / "second-request-taken"

    def work() -> None:
        assert child.send(200_000)
        assert child.send(str(marker), ahead=True)
        deadline = time.monotonic() + 10
        while not marker.exists():  # nothing read yet
            assert time.monotonic() < deadline, "the child waited for its reply to be read"
            time.sleep(0.01)
        assert child.receive() == b"x" * 200_000
        assert child.receive() == str(marker)

    _within(20, work)
