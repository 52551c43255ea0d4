"""Running test code as an unprivileged user, for permission checks that root would bypass.

Fork, not exec: the interpreter under /root is not executable by user nobody.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import pwd
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def nobody_can_enter(prefix: str = "tapir-") -> Iterator[Path]:
    """A temporary directory user nobody can enter (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_as_nobody(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a forked child that dropped to user nobody; return its (pickled) result.

    Fork, not exec: the interpreter under /root is not executable by nobody.
    """
    if os.geteuid() != 0:
        return fn()
    nobody = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        status = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            payload = pickle.dumps(("ok", fn()))
        except BaseException:
            payload = pickle.dumps(("error", traceback.format_exc()))
            status = 1
        view = memoryview(payload)
        while view:
            view = view[os.write(w, view) :]
        os._exit(status)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        chunks.append(f.read())
    os.waitpid(pid, 0)
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "error":
        raise AssertionError(f"child running as nobody failed:\n{value}")
    return value
