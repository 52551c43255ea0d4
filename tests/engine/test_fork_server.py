"""The helpers' fork server (engine/fork_server.py) with real processes: what a forked helper
gets (descriptors, directory, process group), its return codes, killing it, the CPU
accounting at stop, and PickleChild falling back to a plain start when the server is gone."""

from __future__ import annotations

import fcntl
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine import child_process
from engine.child_process import PickleChild
from engine.fork_server import ForkServer, ForkServerError, supported

pytestmark = pytest.mark.skipif(not supported(), reason="needs pidfds (Linux 5.3)")

HELPER = """
import json, os, sys, time

def main(argv):
    what = argv[0]
    if what == "report":
        fd = int(argv[1])
        print(json.dumps({
            "cwd": os.getcwd(), "argv": sys.argv, "ppid": os.getppid(),
            "pgid": os.getpgid(0), "extra": os.pread(fd, 5, 0).decode(),
            "stdin": sys.stdin.buffer.read().decode(),
        }))
    elif what == "exit":
        raise SystemExit(int(argv[1]))
    elif what == "sleep":
        time.sleep(float(argv[1]))
    elif what == "burn":
        end = time.process_time() + float(argv[1])
        while time.process_time() < end:
            pass
"""


@pytest.fixture
def server(tmp_path: Path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "fork_helper.py").write_text(HELPER)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "lib"))
    srv = ForkServer(["fork_helper"], env)
    yield srv
    srv.stop(10.0)


def test_a_forked_helper_gets_its_pipes_descriptors_directory_and_its_own_group(
    server: ForkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The descriptor at the caller's number is the caller's file, the directory is the
    caller's at the time of the request (not the server's at its start), the helper is the
    server's child, outside this process's group (a terminal's Ctrl-C does not reach it)."""
    extra = tmp_path / "extra"
    extra.write_bytes(b"hello")
    fd = os.open(extra, os.O_RDONLY)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    try:
        child = server.spawn("fork_helper", ["report", str(fd)], (fd,))
    finally:
        os.close(fd)
    child.stdin.write(b"from the parent")
    child.stdin.close()
    report = json.loads(child.stdout.read())
    assert child.wait(10.0) == 0
    assert report["extra"] == "hello" and report["stdin"] == "from the parent"
    assert report["cwd"] == str(tmp_path / "elsewhere")
    assert report["argv"] == ["fork_helper", "report", str(fd)]
    assert report["ppid"] == server.proc.pid
    assert report["pgid"] == server.proc.pid != os.getpgid(0)


def test_descriptors_at_high_numbers_land_where_the_caller_had_them(
    server: ForkServer, tmp_path: Path
) -> None:
    """The numbers a caller passes may be anything (a daemon with many files open): two
    files at adjacent high numbers each reach the helper at its own number."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_bytes(b"first")
    second.write_bytes(b"other")
    opened = [os.open(first, os.O_RDONLY), os.open(second, os.O_RDONLY)]
    numbers = [66, 67]  # where the server's first moves would put the received ones
    for number in numbers:
        with pytest.raises(OSError):
            fcntl.fcntl(number, fcntl.F_GETFD)  # free here: nothing of pytest's is closed
    for fd, number in zip(opened, numbers, strict=True):
        os.dup2(fd, number)
        os.close(fd)
    try:
        children = [
            server.spawn("fork_helper", ["report", str(number)], tuple(numbers))
            for number in numbers
        ]
    finally:
        for number in numbers:
            os.close(number)
    texts = []
    for child in children:
        child.stdin.close()
        texts.append(json.loads(child.stdout.read())["extra"])
        assert child.wait(10.0) == 0
    assert texts == ["first", "other"]


def test_return_codes_a_timeout_and_a_kill(server: ForkServer) -> None:
    exits = server.spawn("fork_helper", ["exit", "3"], ())
    assert exits.wait(10.0) == 3 and exits.returncode == 3
    sleeper = server.spawn("fork_helper", ["sleep", "30"], ())
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(0.2)
    assert sleeper.poll() is None
    sleeper.kill()
    assert sleeper.wait(10.0) == -signal.SIGKILL
    assert server.live == 0


def test_the_helpers_cpu_is_counted_here_once_the_server_stopped(tmp_path: Path) -> None:
    """What a bench reads (RUSAGE_CHILDREN) includes the helpers once ``stop`` returned: the
    server waited for them and was waited for."""
    (tmp_path / "fork_helper.py").write_text(HELPER)
    srv = ForkServer(["fork_helper"], dict(os.environ, PYTHONPATH=str(tmp_path)))
    before = _children_cpu()
    burner = srv.spawn("fork_helper", ["burn", "0.3"], ())
    assert burner.wait(30.0) == 0
    assert _children_cpu() - before < 0.25
    srv.stop(10.0)
    assert _children_cpu() - before >= 0.3


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_a_server_that_died_is_reported_and_a_wrong_status_refused(server: ForkServer) -> None:
    with pytest.raises(ForkServerError, match="not a helper"):
        server.status(os.getpid())
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    with pytest.raises(ForkServerError):
        server.spawn("fork_helper", ["exit", "0"], ())


def test_a_server_that_stops_answering_is_given_up_after_its_timeout(tmp_path: Path) -> None:
    """A hung server (stopped here with SIGSTOP) costs a request its timeout, then an error
    the caller falls back on, not a hung backup."""
    (tmp_path / "fork_helper.py").write_text(HELPER)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    srv = ForkServer(["fork_helper"], env, reply_s=0.5)
    try:
        srv.spawn("fork_helper", ["exit", "0"], ()).wait(10.0)  # started and answering
        os.kill(srv.proc.pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(ForkServerError, match="stopped answering"):
            srv.spawn("fork_helper", ["exit", "0"], ())
        assert 0.4 < time.monotonic() - started < 5.0
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
        srv.stop(10.0)


def test_pickle_children_start_the_usual_way_when_the_server_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backup's helpers are forked while the server runs; once it died, the next one is
    started with ``python -m`` and works the same."""
    child_process.join_closed()  # a server of an earlier test, if any, ends here
    monkeypatch.setattr(child_process, "_SERVER_REFUSED", False)
    fd = os.memfd_create("t")
    os.ftruncate(fd, 1 << 16)
    try:
        forked = PickleChild("engine.backup.read_worker", [str(fd), "0"], pass_fds=(fd,))
        server = child_process._SERVER
        assert server is not None and forked.proc.pid != server.proc.pid
        assert type(forked.proc).__name__ == "ForkedProcess"
        assert forked.call([]) == []
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        plain = PickleChild("engine.backup.read_worker", [str(fd), "0"], pass_fds=(fd,))
        assert isinstance(plain.proc, subprocess.Popen)
        assert plain.call([]) == []
        assert child_process._SERVER is None and child_process._SERVER_REFUSED
        plain.close()
        forked.close()
        started = time.monotonic()
        child_process.join_closed()
        assert time.monotonic() - started < 5.0
    finally:
        os.close(fd)
