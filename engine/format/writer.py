"""``ArchiveWriter``: one session as a pax archive in fixed records (shared/DESIGN.md
"On-media format"; docs/tapir-format.md).

Per member: headers (``codec.encode_member``) into the record buffer, then the data read with
``readinto`` straight into the buffer and hashed (xxh3-128) from the same memoryview, then
zero padding to the block. Hard links are stored once; later links are type '1'. FIFOs and
device nodes are recorded, never opened. A read error or a short read pads the member with
zeros to its declared size (the archive stays valid) and marks the index entry. At ``close``
the index and the trailer (engine/format/index.py) end the session.

Members whose bytes the caller already has (small files, most laid out by a reader worker
process) take plain_members.py's shorter paths.

Multi-volume: when the sink reports early warning, the writer keeps writing until a record
boundary falls inside a regular member's data (or exactly between members), calls
``sink.next_volume`` and starts the new part with GNU tar's continuation headers.

Caller: one thread (the pipeline's format stage). Every call may block in the sink. Per-item
problems (open/read errors) end up in the returned ``IndexEntry``; ``OSError`` from ``lstat``
or ``open`` propagates before anything is written, for the caller's ``on_item_error``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import xxhash

from engine.format import codec
from engine.format import headers as h
from engine.format import sparse as sp
from engine.format.index import (
    INDEX_MEMBER,
    TRAILER_MEMBER,
    IndexBuilder,
    IndexEntry,
    Trailer,
)
from engine.format.members import Member, MemberKind, member_from_stat, read_xattrs
from engine.format.plain_members import PlainMembers
from engine.format.records import (
    DEFAULT_RECORD_SIZE,
    BytesSource,
    CallableSink,
    Readable,
    RecordSink,
    RecordWriter,
)

CORRUPTED = "corrupted"
IN_USE = "in_use"
TAPIR_FILE_MODE = 0o444
TAPIR_OWNER = b"tapir"
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)
_SMALL_SOURCES = (int, memoryview)
"""Sources the one-record fast path takes: a descriptor, or data the caller already read."""


@dataclass(slots=True)
class _Open:
    """The member whose data is being written (for volume splits)."""

    member: Member
    entry: IndexEntry
    data_start: int
    data_end: int
    padded_end: int
    splittable: bool


@dataclass(frozen=True)
class SessionSummary:
    trailer: Trailer
    volumes: int
    """Volume parts the session used (1 when it did not span)."""


class ArchiveWriter(PlainMembers):
    """Writes one session. ``add_path`` / ``add_member`` return the member's ``IndexEntry``
    (its position lets the caller record it once the drive has flushed that record)."""

    def __init__(
        self,
        sink: RecordSink | Callable[[memoryview], object],
        *,
        record_size: int = DEFAULT_RECORD_SIZE,
        session: dict[str, Any] | None = None,
        xattrs: bool = True,
        acls: bool = True,
        all_times: bool = True,
        detect_sparse: bool = True,
    ) -> None:
        if not hasattr(sink, "write_record"):
            sink = CallableSink(sink)  # type: ignore[arg-type]
        self.sink: RecordSink = sink  # type: ignore[assignment]
        self.out = RecordWriter(self.sink, record_size, on_boundary=self._at_boundary)
        self.record_size = record_size
        self.session = session or {}
        self.xattrs = xattrs
        self.acls = acls
        self.all_times = all_times
        self.detect_sparse = detect_sparse
        self.volume = 0
        self.members = 0
        self._index = IndexBuilder(self.session)
        self._links: dict[tuple[int, int], tuple[bytes, int]] = {}
        self._open: _Open | None = None
        self._member_end = -1
        """End position of the header-only member being written: a clean split point."""
        self._noatime = _NOATIME

    # -- members -------------------------------------------------------------------------

    def add_path(
        self,
        path: bytes | str,
        name: bytes | str | None = None,
        *,
        st: os.stat_result | None = None,
    ) -> IndexEntry:
        """Archive one file system object (never following a symlink). ``name`` defaults to
        ``path`` without its leading '/'. Raises OSError (lstat, open) before writing."""
        path = os.fsencode(path)
        arcname = os.fsencode(name) if name is not None else path.lstrip(b"/") or b"."
        if st is None:
            st = os.lstat(path)
        member = member_from_stat(arcname, st)
        if not self.all_times:
            member.atime_ns = member.ctime_ns = None
        if self.xattrs or self.acls:
            read_xattrs(path, member, with_acls=self.acls)
            if not self.xattrs:
                member.xattrs.clear()
        kind = member.kind
        linked, group = self._hardlink(member, st)
        if linked:
            return self._add(member, None, link_group=group, st=st)
        if kind is MemberKind.SYMLINK:
            member.linkname = os.readlink(path)
        if kind is not MemberKind.FILE:
            return self._add(member, None, link_group=group, st=st)
        fd = self._open_file(path)
        try:
            extents = None
            if self.detect_sparse and sp.looks_sparse(st):
                extents = sp.data_extents(fd, member.size)
            return self._add(member, fd, link_group=group, extents=extents, st=st)
        finally:
            os.close(fd)

    def _hardlink(self, member: Member, st: os.stat_result) -> tuple[bool, int | None]:
        """(True, group) after turning ``member`` into a link to the inode's first member;
        (False, group or None) for the first member of an inode (or one not linked)."""
        if member.kind is MemberKind.DIRECTORY or st.st_nlink <= 1:
            return False, None
        key = (st.st_dev, st.st_ino)
        first = self._links.get(key)
        if first is None:
            self._links[key] = (member.name, len(self._links))
            return False, len(self._links) - 1
        member.kind = MemberKind.HARDLINK
        member.linkname = first[0]
        member.size = 0
        member.xattrs.clear()  # same inode: the first member carries them
        member.acl_access = member.acl_default = None
        return True, first[1]

    def add_prepared(
        self,
        member: Member,
        st: os.stat_result,
        source: int | Readable | memoryview | None = None,
        *,
        extents: list[sp.Extent] | None = None,
        exception: tuple[str, ...] | None = None,
        finish: Callable[[IndexEntry], object] | None = None,
        change: str | None = None,
    ) -> tuple[IndexEntry, bool]:
        """Archive a member whose metadata (xattrs, link target) and data source the caller
        prepared (the backup pipeline's reader threads). Hard links are resolved here, so the
        caller learns whether ``source`` was used: ``(entry, False)`` for a later link to an
        inode already stored. ``finish(entry)`` runs after the data, before the index line
        (the caller records what reading found: a read error, a change while reading)."""
        linked, group = self._hardlink(member, st)
        if linked or member.kind is not MemberKind.FILE:
            entry = self._add(
                member, None, link_group=group, exception=exception, st=st, change=change
            )
            return entry, not linked
        entry = self._add(
            member,
            source,  # type: ignore[arg-type]
            link_group=group,
            extents=extents,
            exception=exception,
            finish=finish,
            st=st,
            change=change,
        )
        return entry, True

    def _open_file(self, path: bytes) -> int:
        if self._noatime:
            try:
                return os.open(path, _OPEN_FLAGS | self._noatime)
            except PermissionError:
                self._noatime = 0
        return os.open(path, _OPEN_FLAGS)

    def add_member(
        self,
        member: Member,
        source: int | Readable | bytes | None = None,
        *,
        exception: tuple[str, str] | None = None,
    ) -> IndexEntry:
        """Archive a member the caller described; data (``member.size`` bytes) comes from an
        fd, an object with ``readinto``, or bytes. ``exception`` (category, reason) marks a
        member the caller backed up despite a problem (e.g. in use)."""
        if isinstance(source, bytes | bytearray | memoryview):
            source = BytesSource(source)
        return self._add(member, source, exception=exception)

    def note_exception(
        self,
        path: bytes,
        category: str,
        reason: str,
        *,
        code: str | None = None,
        st: os.stat_result | None = None,
        change: str | None = None,
    ) -> IndexEntry:
        """List a file that is not in the archive (skipped) so a rebuilt catalog knows it."""
        entry = IndexEntry(path, MemberKind.FILE, self.volume, -1, -1)
        entry.exception, entry.reason, entry.code = category, reason, code
        entry.change = change
        if st is not None:
            entry.size, entry.mtime_ns = st.st_size, st.st_mtime_ns
            stat_fields(entry, st, b"", b"", st.st_size)
        self._index.add(entry)
        return entry

    def note_deleted(self, entry: IndexEntry) -> None:
        """List a path the run found deleted since its base run (``entry.deleted`` set; no
        member), so a rebuilt incremental chain forgets it too. Index version 2 only."""
        entry.volume, entry.record, entry.offset = self.volume, -1, -1
        self._index.add(entry)

    def _add(
        self,
        member: Member,
        source: int | Readable | None,
        *,
        link_group: int | None = None,
        extents: list[sp.Extent] | None = None,
        exception: tuple[str, ...] | None = None,
        finish: Callable[[IndexEntry], object] | None = None,
        st: os.stat_result | None = None,
        change: str | None = None,
    ) -> IndexEntry:
        out = self.out
        record, offset = divmod(out.position, self.record_size)
        entry = IndexEntry(member.name, member.kind, self.volume, record, offset)
        entry.mtime_ns = member.mtime_ns
        entry.link_group = link_group
        entry.change = change
        if st is not None:
            stat_fields(entry, st, member.uname, member.gname, member.size)
        if member.kind is MemberKind.HARDLINK or member.kind is MemberKind.SYMLINK:
            entry.link = member.linkname
        if exception is not None:
            entry.exception, entry.reason = exception[0], exception[1]
            if len(exception) > 2:
                entry.code = exception[2]
        if member.kind is not MemberKind.FILE:
            header = codec.encode_member(member)
            self._member_end = out.position + len(header)
            out.write(header)
            self._member_end = -1
        else:
            entry.size = member.size
            sparse_map = b""
            stored = member.size
            if extents is not None:
                member.sparse = extents
                sparse_map = sp.encode_map(extents)
                stored = len(sparse_map) + sp.stored_size(extents)
            header = codec.encode_member(member, stored_size=stored)
            pad = h.padding(stored)
            if (
                extents is None
                and type(source) in _SMALL_SOURCES
                and out.fill + len(header) + stored + pad < self.record_size
                and self._small_file(header, source, stored, pad, entry)  # type: ignore[arg-type]
            ):
                if finish is not None:
                    finish(entry)
                self.members += 1
                self._index.add(entry)
                return entry
            if type(source) is memoryview:
                source = BytesSource(source)
            out.write(header)
            start = out.position
            self._open = _Open(
                member,
                entry,
                start,
                start + stored,
                start + stored + h.padding(stored),
                splittable=extents is None,
            )
            hasher = xxhash.xxh3_128()
            if extents is None:
                self._copy(source, member.size, hasher, entry, base=0)
            else:
                out.write(sparse_map)
                for ext_offset, length in extents:
                    if length:
                        os.lseek(source, ext_offset, os.SEEK_SET)  # type: ignore[arg-type]
                        self._copy(source, length, hasher, entry, base=ext_offset)
            entry.checksum = hasher.hexdigest()
            out.zeros(h.padding(stored))
            self._open = None
            if finish is not None:
                finish(entry)
        self.members += 1
        self._index.add(entry)
        return entry

    def _small_file(
        self, header: bytes, fd: int | memoryview, size: int, pad: int, entry: IndexEntry
    ) -> bool:
        """Fast path: header, data and padding fit in the current record (no record boundary,
        so no volume split): one ``readv`` (or one copy of data already read) and a one-shot
        hash. False (nothing written) when the read came up short or failed; the general path
        then retries from the start."""
        out = self.out
        data_at = out.fill + len(header)
        view = out.buffer[data_at : data_at + size]
        if type(fd) is memoryview:
            view[:] = fd
            got = size
        else:
            try:
                got = os.readv(fd, [view]) if size else 0  # type: ignore[arg-type]
            except OSError:
                got = -1
        if got != size:
            if got:
                os.lseek(fd, 0, os.SEEK_SET)
            return False
        out.buffer[out.fill : data_at] = header
        entry.checksum = xxhash.xxh3_128_hexdigest(view)
        out.fill = data_at + size
        out.buffer[out.fill : out.fill + pad] = h.ZERO_BLOCK[:pad]
        out.fill += pad
        return True

    def _copy(
        self,
        source: int | Readable | None,
        size: int,
        hasher: Any,
        entry: IndexEntry,
        base: int,
    ) -> None:
        """``size`` bytes from ``source`` into the records; on a read error or a short read,
        zeros for the rest and the entry marked."""
        out = self.out
        left = size
        readv = os.readv
        while left:
            view = out.space(left)
            try:
                got = (
                    readv(source, [view]) if type(source) is int else source.readinto(view) or 0  # type: ignore[union-attr]
                )
            except OSError as exc:
                done = size - left
                entry.exception = CORRUPTED
                entry.reason = f"read error at offset {base + done}: {exc.strerror or exc}"
                entry.error_offset = base + done
                break
            if not got:
                entry.exception = entry.exception or IN_USE
                entry.reason = f"file shrank while being read: {base + size - left} of {size}"
                entry.error_offset = base + size - left
                break
            hasher.update(view[:got])
            out.advance(got)
            left -= got
        while left:
            view = out.space(left)
            view[:] = bytes(len(view))
            hasher.update(view)
            left -= len(view)
            out.advance(len(view))

    # -- volumes -------------------------------------------------------------------------

    def _at_boundary(self) -> None:
        """After a record, with early warning set: switch volumes if this boundary is a valid
        split point (inside a regular member's data, or exactly between members)."""
        current = self._open
        pos = self.out.position
        if pos == self._member_end or (current is not None and pos == current.padded_end):
            self._next_volume()
            return
        if current is None or not current.splittable:
            return
        if not current.data_start < pos < current.data_end:
            return
        data_offset = pos - current.data_start
        self._next_volume()
        member = current.member
        self.out.write(codec.continuation_header(member, self.volume + 1, member.size, data_offset))
        current.entry.parts.append((self.volume, 0, 0, data_offset))
        shift = self.out.position - data_offset - current.data_start
        current.data_start += shift
        current.data_end += shift
        current.padded_end += shift

    def _next_volume(self) -> None:
        self.sink.next_volume(self.volume + 1)
        self.volume += 1
        self.out.new_part()

    # -- end of session ------------------------------------------------------------------

    def close(self) -> SessionSummary:
        """Write the index and trailer members, the end-of-archive blocks and the padding of
        the last record. The writer is unusable afterwards."""
        out = self.out
        body, size = self._index.finish()
        index_volume = self.volume
        index_record, index_offset = divmod(out.position, self.record_size)
        now_ns = time.time_ns() // h.NS * h.NS
        index_member = _tapir_member(INDEX_MEMBER, size, now_ns)
        out.write(codec.encode_member(index_member))
        with body:
            left = size
            while left:
                view = out.space(left)
                got = body.readinto(view)  # type: ignore[attr-defined]
                if not got:
                    raise OSError("the index spill file shrank")
                out.advance(got)
                left -= got
        out.zeros(h.padding(size))
        start = out.position
        trailer = Trailer(
            index_volume,
            index_record,
            index_offset,
            size,
            self.members,
            0,
            self.volume,
            self.session,
        )
        for _ in range(3):
            payload = trailer.to_bytes()
            end = start + h.BLOCK + len(payload) + h.padding(len(payload)) + 2 * h.BLOCK
            records = -(-end // self.record_size)
            if records == trailer.records:
                break
            trailer = replace(trailer, records=records)
        out.write(codec.encode_member(_tapir_member(TRAILER_MEMBER, len(payload), now_ns)))
        out.write(payload)
        out.zeros(h.padding(len(payload)) + 2 * h.BLOCK)
        out.finish()
        out.close()
        return SessionSummary(trailer, self.volume + 1)


def _tapir_member(name: bytes, size: int, mtime_ns: int) -> Member:
    return Member(
        name=name,
        kind=MemberKind.FILE,
        size=size,
        mode=TAPIR_FILE_MODE,
        uname=TAPIR_OWNER,
        gname=TAPIR_OWNER,
        mtime_ns=mtime_ns,
    )


def stat_fields(
    entry: IndexEntry, st: os.stat_result, uname: bytes, gname: bytes, size: int
) -> None:
    """The catalog's per-file metadata on ``entry`` from the stat the caller already took (a
    rebuilt catalog then compares equal in the next incremental: engine/backup/levels.py)."""
    entry.mode, entry.uid, entry.gid = st.st_mode, st.st_uid, st.st_gid
    entry.uname = uname.decode("utf-8", "surrogateescape") or None
    entry.gname = gname.decode("utf-8", "surrogateescape") or None
    entry.ctime_ns, entry.inode, entry.dev, entry.nlink = (
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
        st.st_nlink,
    )
    if st.st_size != size:
        entry.st_size = st.st_size
