"""Read stage on real files and real processes: content, checksum, and every per-file problem."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

import psutil
import pytest
import xxhash

from engine.backup.exceptions import (
    Category,
    InUseAction,
    InUsePolicy,
    ItemErrors,
    Reason,
)
from engine.backup.inuse import InUseMonitor, InUseSnapshot
from engine.backup.reader import (
    PAGE_SIZE,
    FdFile,
    FileReader,
    ReadOutcome,
    SourceFile,
    aligned_buffer,
    open_source,
)
from engine.backup.scan import FileEntry, Kind, scan
from tests.privileges import run_as_nobody

CONTENT = bytes(range(256)) * 100  # 25,600 bytes: several reads through a small buffer
CHUNK = 4096


def entry_for(path: Path) -> FileEntry:
    (entry,) = [e for e in scan(path.parent) if e.relpath == path.name]
    return entry


def stream(src: SourceFile, chunk: int = CHUNK) -> tuple[bytes, ReadOutcome]:
    """What a writer does: readinto one reused aligned buffer until done, then finish."""
    buf = aligned_buffer(chunk)
    view = memoryview(buf)[:chunk]
    out = bytearray()
    while n := src.readinto(view):
        out += view[:n]
    outcome = src.finish()
    view.release()
    return bytes(out), outcome


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def test_aligned_buffer_is_whole_pages_at_a_page_boundary() -> None:
    buf = aligned_buffer(PAGE_SIZE + 1)
    assert len(buf) == 2 * PAGE_SIZE
    address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    assert address % PAGE_SIZE == 0


def test_reads_content_and_checksum(data_file: Path) -> None:
    errors = ItemErrors()
    src = FileReader(errors).open(entry_for(data_file))
    assert src is not None
    assert src.size == len(CONTENT) and src.stat.st_ino == os.stat(data_file).st_ino
    data, outcome = stream(src)
    assert data == CONTENT
    assert outcome.digest == xxhash.xxh3_128(CONTENT).digest()
    assert outcome.clean and outcome.corrupted_offset is None and errors.items == []
    assert src.readinto(memoryview(bytearray(10))) == 0


def test_readinto_fills_exactly_what_remains(data_file: Path) -> None:
    src = FileReader(ItemErrors()).open(entry_for(data_file))
    assert src is not None
    big = memoryview(aligned_buffer(len(CONTENT) * 2))
    assert src.readinto(big) == len(CONTENT)
    assert bytes(big[: len(CONTENT)]) == CONTENT
    assert src.finish().clean


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    outcome = FileReader(ItemErrors()).checksum(
        entry_for(tmp_path / "empty"), memoryview(aligned_buffer(CHUNK))
    )
    assert outcome is not None and outcome.size == 0
    assert outcome.digest == xxhash.xxh3_128(b"").digest()


def test_open_for_writing_by_subprocess_is_flagged(data_file: Path, writer_factory) -> None:
    writer = writer_factory(data_file, hold=True)
    errors = ItemErrors()
    reader = FileReader(errors, in_use=InUseMonitor())
    src = reader.open(entry_for(data_file))
    assert src is not None  # default policy: back it up and flag it
    data, outcome = stream(src)
    assert data == CONTENT
    (exc,) = outcome.exceptions
    assert errors.items == [exc]
    assert (exc.code, exc.category, exc.stored) == (Reason.OPEN_FOR_WRITING, Category.IN_USE, True)
    assert exc.fields["pids"] == (writer.pid,)
    assert f"pid {writer.pid} ({psutil.Process(writer.pid).name()}" in exc.sentence


def test_open_for_writing_skipped_by_policy(data_file: Path, writer_factory) -> None:
    writer_factory(data_file, hold=True)
    errors = ItemErrors()
    policy = InUsePolicy(InUseAction.SKIP)
    reader = FileReader(errors, in_use=InUseMonitor(), policy=policy)
    assert reader.open(entry_for(data_file)) is None
    (exc,) = errors.items
    assert (exc.code, exc.stored) == (Reason.OPEN_FOR_WRITING, False)


def test_retry_succeeds_once_the_writer_closes(data_file: Path, writer_factory) -> None:
    writer = writer_factory(data_file, hold=True)
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        writer.command("close")  # the writer finishes while we wait

    errors = ItemErrors()
    policy = InUsePolicy(InUseAction.SKIP, retries=3, retry_delay_s=0.0)
    reader = FileReader(errors, in_use=InUseMonitor(), policy=policy, sleep=wait)
    src = reader.open(entry_for(data_file))
    assert src is not None and waits == [0.0]
    assert stream(src)[1].clean and errors.items == []


def test_retries_exhausted_then_flagged(data_file: Path, writer_factory) -> None:
    writer_factory(data_file, hold=True)
    waits: list[float] = []
    errors = ItemErrors()
    policy = InUsePolicy(retries=2, retry_delay_s=0.0)
    reader = FileReader(errors, in_use=InUseMonitor(), policy=policy, sleep=waits.append)
    src = reader.open(entry_for(data_file))
    assert src is not None and len(waits) == 2
    src.close()
    assert errors.codes() == [(str(data_file), Reason.OPEN_FOR_WRITING)]


def test_appended_while_reading_is_changed(data_file: Path, writer_factory) -> None:
    writer = writer_factory(data_file, hold=False)  # opens, appends, closes on each command
    errors = ItemErrors()
    src = FileReader(errors, in_use=InUseMonitor()).open(entry_for(data_file))
    assert src is not None and errors.items == []  # nobody held it at open
    view = memoryview(aligned_buffer(CHUNK))
    first = bytes(view[: src.readinto(view)])
    writer.command("append")
    rest = bytearray()
    while n := src.readinto(view):
        rest += view[:n]
    outcome = src.finish()
    assert first + rest == CONTENT  # the member keeps the size its header announced
    (exc,) = outcome.exceptions
    assert (exc.code, exc.category, exc.stored) == (
        Reason.CHANGED_WHILE_READING,
        Category.IN_USE,
        True,
    )
    assert exc.fields["moved"].startswith("size")
    assert outcome.stat_after is not None and outcome.stat_after.st_size > len(CONTENT)


def test_shrunk_while_reading_is_padded_and_changed(data_file: Path) -> None:
    errors = ItemErrors()
    src = FileReader(errors).open(entry_for(data_file))
    assert src is not None
    view = memoryview(aligned_buffer(CHUNK))
    out = bytearray(view[: src.readinto(view)])
    os.truncate(data_file, 6000)
    while n := src.readinto(view):
        out += view[:n]
    outcome = src.finish()
    expected = CONTENT[:6000] + bytes(len(CONTENT) - 6000)
    assert bytes(out) == expected
    assert outcome.digest == xxhash.xxh3_128(expected).digest()
    assert errors.codes() == [(str(data_file), Reason.CHANGED_WHILE_READING)]


def test_changed_since_scan_is_flagged_or_skipped(data_file: Path) -> None:
    entry = entry_for(data_file)
    with open(data_file, "ab") as f:
        f.write(b"more")
    errors = ItemErrors()
    src = FileReader(errors).open(entry)
    assert src is not None and src.size == len(CONTENT) + 4  # the header uses the fresh fstat
    data, outcome = stream(src)
    assert data == CONTENT + b"more"
    (exc,) = outcome.exceptions
    assert exc.code is Reason.CHANGED_SINCE_SCAN and exc.fields["moved"].startswith("size")
    skipping = FileReader(ItemErrors(), policy=InUsePolicy(InUseAction.SKIP))
    assert skipping.open(entry) is None


def test_vanished_between_scan_and_read(data_file: Path) -> None:
    entry = entry_for(data_file)
    data_file.unlink()
    errors = ItemErrors()
    assert FileReader(errors).open(entry) is None
    (exc,) = errors.items
    assert (exc.code, exc.category, exc.stored) == (Reason.VANISHED, Category.SKIPPED, False)


def test_replaced_by_symlink_or_fifo_is_never_followed_or_blocked(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"t")
    for name in ("as-link", "as-fifo"):
        (tmp_path / name).write_bytes(b"was a file")
    link_entry, fifo_entry = entry_for(tmp_path / "as-link"), entry_for(tmp_path / "as-fifo")
    (tmp_path / "as-link").unlink()
    (tmp_path / "as-link").symlink_to(tmp_path / "target")
    (tmp_path / "as-fifo").unlink()
    os.mkfifo(tmp_path / "as-fifo")  # no writer: a blocking open would hang here
    errors = ItemErrors()
    reader = FileReader(errors)
    assert reader.open(link_entry) is None
    assert reader.open(fifo_entry) is None
    assert [(e.code, e.fields["now"]) for e in errors.items] == [
        (Reason.REPLACED, "symlink"),
        (Reason.REPLACED, "fifo"),
    ]


def test_special_files_are_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (entry,) = [e for e in scan(tmp_path) if e.kind is Kind.FIFO]
    with pytest.raises(ValueError, match="only regular files"):
        FileReader(ItemErrors()).open(entry)


def test_permission_denied_as_nobody(shared_dir: Path) -> None:
    (shared_dir / "secret").write_bytes(b"s")
    (shared_dir / "secret").chmod(0o600)
    (shared_dir / "public").write_bytes(b"p" * 100)
    (shared_dir / "public").chmod(0o644)

    def read_all() -> list[tuple[str, str, str, str | None]]:
        errors = ItemErrors()
        reader = FileReader(errors)
        buf = memoryview(aligned_buffer(CHUNK))
        digests = {}
        for entry in scan(shared_dir):
            if entry.kind is Kind.FILE:
                outcome = reader.checksum(entry, buf)
                digests[entry.relpath] = outcome.digest.hex() if outcome else None
        found = [(e.path, e.code.value, e.category.value, None) for e in errors.items]
        return [*found, ("public", "", "", digests["public"])]

    problems = run_as_nobody(read_all)
    assert problems == [
        (str(shared_dir / "secret"), "permission_denied", "skipped", None),
        ("public", "", "", xxhash.xxh3_128(b"p" * 100).hexdigest()),
    ]


class FailingAt:
    """Test-only RawFile: the real file's descriptor, with EIO from ``offset`` on, the way a
    disk returns the readable part of a request and then fails (reader.py: the one seam)."""

    def __init__(self, raw: FdFile, offset: int) -> None:
        self.raw = raw
        self.offset = offset
        self.pos = 0

    def readinto(self, buffer: memoryview) -> int:
        left = self.offset - self.pos
        if left <= 0:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        n = self.raw.readinto(buffer[:left] if len(buffer) > left else buffer)
        self.pos += n
        return n

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()


@pytest.mark.parametrize("offset", [0, 1, CHUNK, 10_000, len(CONTENT) - 1])
def test_read_error_at_offset_is_corrupted_and_padded(data_file: Path, offset: int) -> None:
    errors = ItemErrors()
    reader = FileReader(errors, opener=lambda path: FailingAt(open_source(path), offset))
    src = reader.open(entry_for(data_file))
    assert src is not None
    data, outcome = stream(src)
    expected = CONTENT[:offset] + bytes(len(CONTENT) - offset)
    assert data == expected
    assert outcome.digest == xxhash.xxh3_128(expected).digest()
    assert outcome.corrupted_offset == offset
    (exc,) = outcome.exceptions
    assert (exc.code, exc.category, exc.offset, exc.stored) == (
        Reason.READ_ERROR,
        Category.CORRUPTED,
        offset,
        True,
    )
    assert f"EIO: {os.strerror(errno.EIO)}" in exc.sentence and str(offset) in exc.sentence
    assert errors.items == [exc]


def test_close_abandons_without_reporting(data_file: Path) -> None:
    errors = ItemErrors()
    src = FileReader(errors).open(entry_for(data_file))
    assert src is not None
    fd = src._raw.fileno()  # type: ignore[union-attr]
    with src:
        src.readinto(memoryview(aligned_buffer(CHUNK)))
        with pytest.raises(RuntimeError, match="unread"):
            src.finish()
    with pytest.raises(OSError):
        os.fstat(fd)
    assert errors.items == []


def test_no_in_use_check_without_a_monitor(data_file: Path, writer_factory) -> None:
    writer_factory(data_file, hold=True)
    errors = ItemErrors()
    reader = FileReader(errors, in_use=InUseMonitor(InUseSnapshot.empty()))
    src = reader.open(entry_for(data_file))
    assert src is not None
    assert stream(src)[1].clean


def test_readinto_after_close_is_refused(data_file: Path) -> None:
    src = FileReader(ItemErrors()).open(entry_for(data_file))
    assert src is not None
    src.close()
    with pytest.raises(RuntimeError, match="after close"):
        src.readinto(memoryview(aligned_buffer(CHUNK)))
