"""Reader worker processes for plain small files (issue 4 "Speed").

Why a process: in one Python process every system call releases and retakes the GIL, and
while the format and catalog threads hold it a reader thread waits for it after each call.
A small file costs seven calls (lstat at the scan, then open, fstat, readv, listxattr,
fstat, close): with six busy threads the waits, not the calls, set the pace (profiled: a
2-7 us ``readv`` took 100 us of wall time in the pipeline). A worker process has a GIL of its
own: it takes a batch's plain small files in one message, reads each into the batch's buffer
(a ``memfd`` shared with this process, buffers.BufferPool) and returns what the format stage
needs, formatted ahead so that the format stage (the backup's busiest thread) only copies and
adds positions: the pax header (the same bytes as in-process), the index line before and after
its position (index.plain_line_parts) and the catalog row's fields before it
(rows.plain_row_head). One pipe round trip per batch replaces ~6 GIL round trips per file in
the reader threads.

What it takes is the lean path's case only (stages.ReaderStage._read_small): a regular file
with one link, unchanged since the scan (inode, size, mtime, ctime) before and after the read,
without xattrs or ACLs, read whole. Anything else, or a worker that died, gives ``None`` for
that file, and the reader thread takes it through the in-process path, which reports what is
wrong (in use, changed, unreadable, ...). The in-use check stays in the reader thread, before
a file is sent. Nothing is reported from here.

A plain run (scan.PlainRun, engine/backup/plain_runs.py) comes as names only, never
``lstat``-ed: the worker opens each, takes it when the ``fstat`` says it is a plain small file
(regular, one link, not sparse, not in the in-use snapshot's files, room left), and lays its
members out back to back from the run's offset, so that the format stage copies each with
one slice and no per-file request was built here or there. A name it does not take is left to
the reader thread (the walk's ``lstat`` and the in-process path, which reports what is wrong).

Run (engine/child_process.py) as ``python -m engine.backup.read_worker FD XATTRS``: FD is the
shared buffer's memfd, XATTRS 1 to list xattrs (0: the job stores none, so none are looked for).
"""

from __future__ import annotations

import mmap
import os
import pickle
import stat as stat_mod
import sys

import xxhash

from engine.backup.rows import plain_row_head, staged_row_head
from engine.catalog.files_model import normalize
from engine.child_process import PickleChild, serve_stdio
from engine.format import codec
from engine.format.index import plain_line_parts, plain_line_template
from engine.format.members import NO_XATTR_ERRNOS, group_name, member_from_stat, user_name

OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""As reader.py's (not imported from there: the worker starts with few imports)."""
NOATIME = getattr(os, "O_NOATIME", 0)
FS_ENCODING, FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
BLOCK = 512
ZEROS = bytes(BLOCK)

HEADER_ROOM = 1536
"""Room left before each file's data in the shared buffer for its header: the common plain
file's (a pax header of its three times, then the ustar block). The worker writes the header
there and zeros after the data up to the 512-byte boundary, so the member is one slice of the
buffer and the format stage copies it into the record at once; a longer header (a long name,
xattrs) comes back as bytes instead."""
SLOT_EXTRA = HEADER_ROOM + 511
"""What a small file takes in a batch buffer beyond its data when a worker reads it."""

Spec = tuple[str, bytes, int, int, int, int, int, int, str | None]
"""(path, member name, dev, ino, size, mtime_ns, ctime_ns, offset in the shared buffer,
change against the base run)."""
RunRequest = tuple[str, str, bytes, list[str], int, int, int, frozenset[tuple[int, int]] | None]
"""("run", directory with a trailing slash, member name prefix, names, offset in the shared
buffer, room there, largest file taken, (st_dev, st_ino) of the files open for writing: None
when they are the ones the worker was sent last, so that a busy system's thousands of open
files cross the pipe once per in-use snapshot, not once per run)."""
RunStretch = tuple[int, list[int], list[int], list[int], list[int], str, bytes]
"""Members of a run laid out one after the other, for names one after the other: (index of
the first name, then per member its length (header, data, padding), header length, file
size and atime_ns, then the members' index lines as ``index.line_template`` templates
joined by newlines, and the pickled list of their catalog row heads (``rows.staged_row_head``,
handed through the backup process to the catalog staging untouched:
engine/catalog/row_staging.PlainBlob)).
The names between stretches were not taken. Per stretch, not per file: the backup process
unpickles a few lists of ints and one string, and formats the stretch's index lines with
one ``%``."""
Result = list[object] | None
"""[pax header, index line head and tail, catalog row head, atime_ns], or None: take the
file in-process. The header is its length (an int) when it was written into the buffer
before the data (``HEADER_ROOM``); ``ReaderStage`` then puts the member's view there. The
format stage rebuilds the ``fstat`` from the row head and atime when the member does not fit
the current record (format_stage.worked_stat)."""


class _Reader:
    def __init__(self, buffer: memoryview, xattrs: bool) -> None:
        self.buffer = buffer
        self.xattrs = xattrs
        self.noatime = NOATIME
        self.in_use: frozenset[tuple[int, int]] = frozenset()

    def read(self, spec: Spec) -> Result:
        path, name, dev, ino, size, mtime, ctime, at, change = spec
        fd, self.noatime = _open(path, None, self.noatime)
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
            if (
                st.st_ino != ino
                or st.st_dev != dev
                or st.st_size != size
                or st.st_mtime_ns != mtime
                or st.st_ctime_ns != ctime
                or st.st_nlink != 1
                or not stat_mod.S_ISREG(st.st_mode)
            ):
                return None
            view = self.buffer[at : at + size]
            if not _read_whole(fd, view, mtime, ctime, self.xattrs):
                return None
        except OSError:
            return None
        finally:
            os.close(fd)
        header, uname, gname = _header(name, st)
        head, tail, row = _line_and_row(os.fsencode(path), name, st, view, uname, gname, change)
        placed: bytes | int = header
        if len(header) <= HEADER_ROOM:
            end = at + size
            pad = -size % BLOCK
            buffer = self.buffer
            buffer[at - len(header) : at] = header
            buffer[end : end + pad] = ZEROS[:pad]
            placed = len(header)
        return [placed, head, tail, row, st.st_atime_ns]

    def run(self, request: RunRequest) -> tuple[int, list[RunStretch]]:
        """Lay out a plain run's members (module docstring); returns the bytes used from the
        offset and the stretches of members taken one after the other (``RunStretch``)."""
        _, directory, prefix, names, offset, room, largest, in_use = request
        if in_use is None:
            in_use = self.in_use
        self.in_use = in_use
        parent = os.fsencode(directory)
        catalog_parent = bytearray(normalize(parent))  # as files_model.split_path gives it
        stretches: list[RunStretch] = []
        try:  # names are opened relative to it: no path walk per file (~0.5 us each)
            dir_fd = os.open(parent, DIRECTORY_FLAGS)
        except OSError:
            return 0, stretches  # every name in-process, which reports why
        at, end = offset, offset + room
        stretch = _Stretch(
            self.buffer, catalog_parent, prefix, end, largest, in_use, dir_fd,
            xattrs=self.xattrs, noatime=self.noatime,
        )  # fmt: skip
        try:
            for index, name in enumerate(names):
                length = stretch.add(index, name, at)
                if not length:
                    if stretch.rows:
                        stretches.append(stretch.done())
                        stretch = stretch.next()
                    continue
                at += length
        finally:
            os.close(dir_fd)
            self.noatime = stretch.noatime
        if stretch.rows:
            stretches.append(stretch.done())
        return at - offset, stretches


class _Stretch:
    """A ``RunStretch`` being collected, and how a run's names become its members: one
    method call per file, its lists appended in place, no tuple per member (the workers are
    most of a small-files backup's CPU). Opening and the read's checks are ``_Reader.read``'s
    own (``_open``, ``_read_whole``)."""

    __slots__ = (
        "atimes", "buffer", "dir_fd", "end", "first", "headers", "in_use", "largest",
        "lengths", "lines", "noatime", "parent", "prefix", "rows", "sizes", "xattrs",
    )  # fmt: skip

    def __init__(
        self,
        buffer: memoryview,
        parent: bytearray,
        prefix: bytes,
        end: int,
        largest: int,
        in_use: frozenset[tuple[int, int]],
        dir_fd: int,
        *,
        xattrs: bool,
        noatime: int,
    ) -> None:
        self.buffer, self.parent, self.prefix, self.end = buffer, parent, prefix, end
        self.largest, self.in_use, self.dir_fd = largest, in_use, dir_fd
        self.xattrs, self.noatime = xattrs, noatime
        self.first = -1
        self.lengths: list[int] = []
        self.headers: list[int] = []
        self.sizes: list[int] = []
        self.atimes: list[int] = []
        self.lines: list[str] = []
        self.rows: list[tuple[object, ...]] = []

    def next(self) -> _Stretch:
        """An empty stretch of the same run."""
        return _Stretch(
            self.buffer, self.parent, self.prefix, self.end, self.largest, self.in_use,
            self.dir_fd, xattrs=self.xattrs, noatime=self.noatime,
        )  # fmt: skip

    def add(self, index: int, name: str, at: int) -> int:
        """Lay out the member of ``name`` (in the run's directory) at ``at`` and add it; its
        length, or 0: not taken (the reader thread's in-process path takes it and reports
        what is wrong): not a plain small file, no room left, changed while read, or
        anything the system refused."""
        raw = name.encode(FS_ENCODING, FS_ERRORS)  # os.fsencode without its call
        fd, self.noatime = _open(raw, self.dir_fd, self.noatime)
        if fd is None:
            return 0
        try:
            st = os.fstat(fd)
            size = st.st_size
            if (
                size > self.largest
                or st.st_nlink != 1
                or not stat_mod.S_ISREG(st.st_mode)
                or st.st_blocks * BLOCK < size  # sparse.looks_sparse: the in-process path
                or (self.in_use and (st.st_dev, st.st_ino) in self.in_use)
            ):
                return 0
            member_name = self.prefix + raw
            header, uname, gname = _header(member_name, st)
            data_at = at + len(header)
            pad = -size % BLOCK
            stop = data_at + size + pad
            if stop > self.end:
                return 0
            buffer = self.buffer
            view = buffer[data_at : data_at + size]
            if not _read_whole(fd, view, st.st_mtime_ns, st.st_ctime_ns, self.xattrs):
                return 0
        except OSError:
            return 0
        finally:
            os.close(fd)
        buffer[at:data_at] = header
        buffer[stop - pad : stop] = ZEROS[:pad]
        digest = xxhash.xxh3_128_digest(view)
        if self.first < 0:
            self.first = index
        self.lengths.append(stop - at)
        self.headers.append(len(header))
        self.sizes.append(size)
        self.atimes.append(st.st_atime_ns)
        self.lines.append(
            plain_line_template(member_name, size, st.st_mtime_ns, digest.hex(), st, uname, gname)
        )
        self.rows.append(staged_row_head(self.parent, raw, st, uname, gname, digest))
        return stop - at

    def done(self) -> RunStretch:
        rows = pickle.dumps(self.rows, pickle.HIGHEST_PROTOCOL)
        return (self.first, self.lengths, self.headers, self.sizes, self.atimes,
                "\n".join(self.lines), rows)  # fmt: skip


def _open(path: str | bytes, dir_fd: int | None, noatime: int) -> tuple[int | None, int]:
    """The file opened for reading (``path`` relative to ``dir_fd`` when given), or None (the
    in-process path reports why); and the ``O_NOATIME`` flag to open the next one with."""
    try:
        return os.open(path, OPEN_FLAGS | noatime, dir_fd=dir_fd), noatime
    except PermissionError:
        if not noatime:
            return None, noatime
        return _open(path, dir_fd, 0)  # not the owner: O_NOATIME refused (reader.py)
    except OSError:
        return None, noatime


def _read_whole(fd: int, view: memoryview, mtime: int, ctime: int, xattrs: bool) -> bool:
    """Read the file into ``view`` (its size) in one call: True when it came whole, has no
    xattrs (when they are backed up) and kept its size and times while read."""
    size = len(view)
    if size and os.readv(fd, (view,)) != size:
        return False
    if xattrs and _has_xattrs(fd):
        return False
    after = os.fstat(fd)
    return after.st_size == size and after.st_mtime_ns == mtime and after.st_ctime_ns == ctime


def _header(name: bytes, st: os.stat_result) -> tuple[bytes, bytes, bytes]:
    """The member's header (the cached plain form when it applies) and its owner names."""
    uid, gid = st.st_uid, st.st_gid
    uname, gname = user_name(uid), group_name(gid)
    header = codec.plain_header(
        name, st.st_mode, uid, gid, uname, gname, st.st_size,
        st.st_mtime_ns, st.st_atime_ns, st.st_ctime_ns,
    ) or codec.encode_member(member_from_stat(name, st))  # fmt: skip
    return header, uname, gname


def _line_and_row(
    path: bytes,
    name: bytes,
    st: os.stat_result,
    data: memoryview,
    uname: bytes,
    gname: bytes,
    change: str | None,
) -> tuple[str, str, tuple[object, ...]]:
    """The index line's halves and the catalog row's head of a file read whole."""
    digest = xxhash.xxh3_128_digest(data)
    size, mtime = st.st_size, st.st_mtime_ns
    head, tail = plain_line_parts(name, size, mtime, digest.hex(), st, uname, gname, change)
    return head, tail, plain_row_head(path, st, uname, gname, digest)


def _has_xattrs(fd: int) -> bool:
    try:
        return bool(os.listxattr(fd))
    except OSError as exc:
        if exc.errno in NO_XATTR_ERRNOS:
            return False
        raise


class ReadWorker:
    """This process's end of one worker (one per reader thread; not thread-safe)."""

    def __init__(self, fd: int, *, xattrs: bool) -> None:
        self._child = PickleChild(__name__, [str(fd), str(int(xattrs))], pass_fds=(fd,))

    def run(self, specs: list[Spec]) -> list[Result]:
        """Blocks (GIL released) until the worker answers; raises one of
        ``engine.child_process.ChildGone`` if it died (the caller then reads in-process)."""
        results: list[Result] = self._child.call(specs)
        if len(results) != len(specs):
            raise EOFError("read worker answered for another request")
        return results

    def send_plain(self, request: RunRequest, *, ahead: bool = False) -> bool:
        """Send a run for ``_Reader.run`` in the worker; ``receive_plain`` takes its answer.
        ``ahead``: the answer to the run sent before is not taken yet (then False when this
        one is too big to go ahead: ``PickleChild.send``). Raises one of ``ChildGone``."""
        return self._child.send(request, ahead=ahead)

    def receive_plain(self, request: RunRequest) -> tuple[int, list[RunStretch]]:
        """The worker's answer to ``request``, the oldest run sent and not answered yet;
        raises one of ``ChildGone`` (an answer that does not fit the request is EOFError)."""
        used, stretches = self._child.receive()
        names, laid, after = len(request[3]), 0, 0
        for first, lengths, *_ in stretches:
            if first < after or first + len(lengths) > names or not lengths:
                raise EOFError("read worker answered for another request")
            after = first + len(lengths)
            laid += sum(lengths)
        if laid != used:
            raise EOFError("read worker answered for another request")
        return used, stretches

    def close(self) -> None:
        """EOF to the worker; its exit (~20-30 ms of interpreter teardown, nothing of the
        backup's) is waited for by a thread (``child_process.join_closed``)."""
        self._child.close(wait=False)


def main(argv: list[str]) -> None:
    fd, xattrs = int(argv[0]), argv[1] == "1"
    reader = _Reader(memoryview(mmap.mmap(fd, 0)), xattrs)
    serve_stdio(
        lambda request: (
            reader.run(request) if type(request) is tuple else [reader.read(s) for s in request]
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
