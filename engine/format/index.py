"""The session index: the last members of every session (shared/DESIGN.md "On-media format":
"Each session ends with an index (path -> block position, size, checksum)").

Two members end a session, after all file members:

1. ``TAPIR-INDEX.jsonl.gz``: gzip'd JSON lines (``zcat`` reads it). Line 1 is the header
   ``{"format": "tapir-index", "format_version": 1, "session": {...}}`` (2 for an incremental or
   differential run: it may hold deletion lines); every other line is
   one ``IndexEntry`` (keys in docs/tapir-format.md). It is streamed through zlib into a
   temporary file while the session is written, so memory stays flat for a million files.
2. ``TAPIR-TRAILER.json``: where the index member starts (volume, record, offset), its size,
   the member count and the session's record count. It is the last member, so its header is
   the last-but-one non-zero block of the session: ``find_trailer`` finds it in the last two
   records, which is all a restore must read (after one SPACE back from the filemark) before
   one LOCATE to the index.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from engine.format import headers as h
from engine.format.members import MemberKind

INDEX_MEMBER = b"TAPIR-INDEX.jsonl.gz"
TRAILER_MEMBER = b"TAPIR-TRAILER.json"
INDEX_FORMAT = "tapir-index"
TRAILER_FORMAT = "tapir-trailer"
INDEX_VERSION = 2
"""The newest index version this tapir reads. Version 2 adds deletion lines (``del``), which a
version 1 reader would take for members; an index with none (a full run's) is written as
version 1 so an older tapir still reads it (``IndexBuilder``). The per-member metadata keys
(``mo``, ``ui``, ...) are additive: a version 1 reader ignores them."""
PLAIN_VERSION = 1
"""The version of an index that holds no deletion line."""
TRAILER_VERSION = 1
"""The trailer's layout is unchanged by index version 2."""
DELTA_LEVELS = frozenset({"incremental", "differential"})
"""Session levels (engine/backup/levels.py ``Level``) whose index may hold deletions."""
GZIP_WBITS = 31
"""zlib window bits for a gzip wrapper (16 + 15), so ``zcat`` reads the index."""
INDEX_ZLIB_LEVEL = 1
"""Fastest deflate: level 6 cost 4 us per member on the small-files bench for 25% less size."""
BATCH_LINES = 1024
"""Lines joined per zlib call: fewer calls, bounded memory."""
TRAILER_SCAN_BLOCKS = 64
"""How far back from the last non-zero block ``find_trailer`` looks for the trailer header."""


class IndexError_(ValueError):
    """Index or trailer missing, damaged, or of a newer version (message for the user)."""

    code = "format.index"


@dataclass(slots=True)
class IndexEntry:
    """Where one member is and what it holds. ``record``/``offset``: the first header block of
    the member, as a record number within the volume part (tape file) ``volume`` and a byte
    offset within that record."""

    path: bytes
    kind: MemberKind
    volume: int
    record: int
    offset: int
    size: int = 0
    mtime_ns: int = 0
    checksum: str | None = None
    """xxh3-128 of the file content, hex (sparse: of the whole file, holes as zeros)."""
    link: bytes | None = None
    """Symlink target, or the first path of a hard link group."""
    link_group: int | None = None
    exception: str | None = None
    """Exception category (``corrupted``, ``in_use``, ...) or None for a clean member."""
    reason: str | None = None
    error_offset: int | None = None
    parts: list[tuple[int, int, int, int]] = field(default_factory=list)
    """For a member split across volumes: (volume, record, offset, data offset) of each
    continuation header."""
    code: str | None = None
    """Exception code (engine/backup/exceptions.py ``Reason``) next to its category."""
    mode: int | None = None
    """``st_mode`` at backup (type bits included), as the catalog's file rows hold it."""
    uid: int | None = None
    gid: int | None = None
    uname: str | None = None
    gname: str | None = None
    ctime_ns: int | None = None
    inode: int | None = None
    dev: int | None = None
    nlink: int | None = None
    st_size: int | None = None
    """``st_size`` when it differs from ``size`` (a directory, symlink or hard link member
    holds no content, yet the catalog row keeps the size the file system gave)."""
    change: str | None = None
    """What the run found against its base run (``added``, ``changed``; catalog ``Change``)."""
    deleted: str | None = None
    """For a deletion line (no member): the catalog kind the path had in the base run."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "p": self.path.decode("utf-8", "surrogateescape"),
            "k": self.kind.value,
            "v": self.volume,
            "r": self.record,
            "o": self.offset,
        }
        if self.size:
            doc["s"] = self.size
        doc["m"] = self.mtime_ns
        if self.checksum is not None:
            doc["x"] = self.checksum
        if self.link is not None:
            doc["l"] = self.link.decode("utf-8", "surrogateescape")
        if self.link_group is not None:
            doc["g"] = self.link_group
        if self.exception is not None:
            doc["e"] = self.exception
            doc["why"] = self.reason
            if self.error_offset is not None:
                doc["at"] = self.error_offset
        if self.parts:
            doc["parts"] = [list(part) for part in self.parts]
        if self.code is not None:
            doc["ec"] = self.code
        for key, name in _META:
            value = getattr(self, name)
            if value is not None:
                doc[key] = value
        if self.deleted is not None:
            doc["del"] = self.deleted
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> IndexEntry:
        link = doc.get("l")
        return cls(
            path=doc["p"].encode("utf-8", "surrogateescape"),
            kind=MemberKind(doc["k"]),
            volume=doc["v"],
            record=doc["r"],
            offset=doc["o"],
            size=doc.get("s", 0),
            mtime_ns=doc.get("m", 0),
            checksum=doc.get("x"),
            link=link.encode("utf-8", "surrogateescape") if link is not None else None,
            link_group=doc.get("g"),
            exception=doc.get("e"),
            reason=doc.get("why"),
            error_offset=doc.get("at"),
            parts=[tuple(part) for part in doc.get("parts", [])],  # type: ignore[misc]
            code=doc.get("ec"),
            mode=doc.get("mo"),
            uid=doc.get("ui"),
            gid=doc.get("gi"),
            uname=doc.get("un") or None,
            gname=doc.get("gn") or None,
            ctime_ns=doc.get("c"),
            inode=doc.get("i"),
            dev=doc.get("dv"),
            nlink=doc.get("n"),
            st_size=doc.get("ss"),
            change=doc.get("ch"),
            deleted=doc.get("del"),
        )


_META = (
    ("mo", "mode"),
    ("ui", "uid"),
    ("gi", "gid"),
    ("un", "uname"),
    ("gn", "gname"),
    ("c", "ctime_ns"),
    ("i", "inode"),
    ("dv", "dev"),
    ("n", "nlink"),
    ("ss", "st_size"),
    ("ch", "change"),
)
"""Index keys of the per-member metadata (docs/tapir-format.md), absent when unknown."""


_PLAIN_HEAD = '{"p":%s,"k":"%s","v":'
_PLAIN_TAIL = ',"s":%d,"m":%d,"x":"%s","mo":%d,%s"c":%d,"i":%d,"dv":%d,"n":%d%s}'
POSITION = '%d,"r":%d,"o":%d'
"""A plain line's position (volume, record, offset) as ``%`` placeholders: it ends
``_PLAIN_HEAD``, and in a line template (``line_template``) stands between the text
before and after it, which cannot contain it (``"`` is escaped inside the JSON strings)."""
_PLAIN_FILE = _PLAIN_HEAD + POSITION + _PLAIN_TAIL
"""A plain file's line; ``plain_line_parts`` gives the text before and after the position."""
_PLAIN_JOIN = "%s" + POSITION + "%s"
_FILE = MemberKind.FILE.value
_quote = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_OWNERS: dict[tuple[int, int, bytes, bytes], str] = {}
_OWNERS_LIMIT = 4096


def _owner_text(uid: int, gid: int, uname: bytes, gname: bytes) -> str:
    """The ``ui``/``gi``/``un``/``gn`` keys of a plain line, formatted once per owner."""
    key = (uid, gid, uname, gname)
    text = _OWNERS.get(key)
    if text is None:
        text = f'"ui":{int(uid)},"gi":{int(gid)},'
        if uname:
            text += f'"un":{_quote(uname.decode("utf-8", "surrogateescape"))},'
        if gname:
            text += f'"gn":{_quote(gname.decode("utf-8", "surrogateescape"))},'
        if len(_OWNERS) < _OWNERS_LIMIT:
            _OWNERS[key] = text
    return text


def plain_line_parts(
    path: bytes,
    size: int,
    mtime_ns: int,
    x: str,
    st: Any,
    uname: bytes,
    gname: bytes,
    change: str | None = None,
) -> tuple[str, str]:
    """A clean regular file's index line without its position (volume, record, offset),
    as the text before and after it (``IndexBuilder.add_parts`` joins them): a reader
    worker process (engine/backup/read_worker.py) formats these, the writer only the
    position. ``st``: the file's ``os.stat_result`` (mode, owner ids, ctime, inode)."""
    head = _PLAIN_HEAD % (_quote(path.decode("utf-8", "surrogateescape")), _FILE)
    tail = _PLAIN_TAIL % (
        size,
        mtime_ns,
        x,
        st.st_mode,
        _owner_text(st.st_uid, st.st_gid, uname, gname),
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
        st.st_nlink,
        _change(change),
    )
    return head, tail


def line_template(parts: tuple[str, str]) -> str:
    """``plain_line_parts`` as one ``%`` template taking the position (volume, record,
    offset): a reader worker joins a stretch's templates with newlines and the writer
    formats the stretch's lines with one ``%`` (``IndexBuilder.add_lines``)."""
    head, tail = parts
    return head.replace("%", "%%") + POSITION + tail.replace("%", "%%")


_PLAIN_TEMPLATE = (
    (_PLAIN_HEAD % ("%s", _FILE)) + POSITION.replace("%", "%%") + _PLAIN_TAIL[: -len("%s}")] + "}"
)
"""``plain_line_template`` in one formatting (no ``change``: a full backup's plain run)."""


def plain_line_template(
    path: bytes, size: int, mtime_ns: int, x: str, st: Any, uname: bytes, gname: bytes
) -> str:
    """``line_template(plain_line_parts(...))`` of a file of a full backup (no change) with
    one ``%``: what a reader worker formats per file of a plain run (read_worker.py)."""
    quoted = _quote(path.decode("utf-8", "surrogateescape"))
    owner = _owner_text(st.st_uid, st.st_gid, uname, gname)
    if "%" in quoted:
        quoted = quoted.replace("%", "%%")
    if "%" in owner:
        owner = owner.replace("%", "%%")
    return _PLAIN_TEMPLATE % (
        quoted, size, mtime_ns, x, st.st_mode, owner, st.st_ctime_ns, st.st_ino, st.st_dev,
        st.st_nlink,
    )  # fmt: skip


def template_parts(template: str) -> tuple[str, str]:
    """The text before and after the position of one ``line_template``."""
    head, _, tail = template.partition(POSITION)
    return head.replace("%%", "%"), tail.replace("%%", "%")


class IndexBuilder:
    """Collects entries while the session is written; ``finish`` gives the compressed member
    body as a file positioned at 0 and its size. One writer thread."""

    def __init__(self, session: dict[str, Any]) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="tapir-index-")  # noqa: SIM115 (closed by the writer)
        self._zlib = zlib.compressobj(INDEX_ZLIB_LEVEL, zlib.DEFLATED, GZIP_WBITS)
        self._lines: list[str] = []
        """Text not compressed yet: lines, or several lines joined (``add_lines``)."""
        self._pending = 0
        """Lines in ``_lines``."""
        self.count = 0
        self.deltas = session.get("level") in DELTA_LEVELS
        """Deletion lines allowed: the header says version 2 (written before any line)."""
        version = INDEX_VERSION if self.deltas else PLAIN_VERSION
        head = {"format": INDEX_FORMAT, "format_version": version, "session": session}
        self._lines.append(json.dumps(head, separators=(",", ":")))
        self._dumps = json.JSONEncoder(separators=(",", ":")).encode

    def add(self, entry: IndexEntry) -> None:
        if entry.deleted is not None and not self.deltas:
            raise ValueError("a deletion line in the index of a full run")
        if (
            entry.checksum is not None
            and entry.link is None
            and entry.exception is None
            and (entry.link_group is None and not entry.parts)
            and entry.deleted is None
            and entry.st_size is None
            and None
            not in (
                entry.mode,
                entry.uid,
                entry.gid,
                entry.ctime_ns,
                entry.inode,
                entry.dev,
                entry.nlink,
            )
        ):  # the common case (a clean regular file), formatted without building a dict
            line = _PLAIN_FILE % (
                _quote(entry.path.decode("utf-8", "surrogateescape")),
                entry.kind.value,
                entry.volume,
                entry.record,
                entry.offset,
                entry.size,
                entry.mtime_ns,
                entry.checksum,
                entry.mode,
                _owner_text(entry.uid, entry.gid, _raw(entry.uname), _raw(entry.gname)),
                entry.ctime_ns,
                entry.inode,
                entry.dev,
                entry.nlink,
                _change(entry.change),
            )
        else:
            line = self._dumps(entry.to_json())
        self._lines.append(line)
        self._added(1)

    def _added(self, lines: int) -> None:
        self.count += lines
        self._pending += lines
        if self._pending >= BATCH_LINES:
            self._spill()

    def add_plain(
        self,
        path: bytes,
        volume: int,
        record: int,
        offset: int,
        size: int,
        mtime_ns: int,
        x: str,
        st: Any,
        uname: bytes,
        gname: bytes,
        change: str | None = None,
    ) -> None:
        """``add`` for a clean regular file without building an ``IndexEntry`` (the
        small-files path, ``ArchiveWriter.add_small``); the same line ``add`` writes. ``st``
        is the file's ``os.stat_result`` (no system call here)."""
        head, tail = plain_line_parts(path, size, mtime_ns, x, st, uname, gname, change)
        self.add_parts(head, volume, record, offset, tail)

    def add_parts(self, head: str, volume: int, record: int, offset: int, tail: str) -> None:
        """``add_plain`` of a line formatted ahead by ``plain_line_parts``."""
        self._lines.append(_PLAIN_JOIN % (head, volume, record, offset, tail))
        self._added(1)

    def add_lines(self, text: str, count: int) -> None:
        """``count`` lines at once, joined by newlines (formatted from ``line_template``
        templates); the same lines ``add_parts`` adds one by one."""
        self._lines.append(text)
        self._added(count)

    def _spill(self) -> None:
        if self._lines:
            text = "\n".join(self._lines) + "\n"
            self._file.write(self._zlib.compress(text.encode("ascii")))
            self._lines.clear()
            self._pending = 0

    def finish(self) -> tuple[IO[bytes], int]:
        self._spill()
        self._file.write(self._zlib.flush())
        size = self._file.tell()
        self._file.seek(0)
        return self._file, size


def _raw(name: str | None) -> bytes:
    return name.encode("utf-8", "surrogateescape") if name else b""


def _change(change: str | None) -> str:
    """The ``ch`` key of a plain line (a ``StrEnum`` formats as its value)."""
    return "" if change is None else f',"ch":"{change}"'


def iter_index(chunks: Iterable[bytes | memoryview]) -> Iterator[dict[str, Any] | IndexEntry]:
    """The header dict, then every ``IndexEntry``, from the index member's data chunks
    (streamed: memory stays flat). Raises ``IndexError_`` on a newer version."""
    unzip = zlib.decompressobj(GZIP_WBITS)
    rest = b""
    first = True
    for chunk in chunks:
        rest += unzip.decompress(chunk)
        *lines, rest = rest.split(b"\n")
        for line in lines:
            doc = json.loads(line)
            if first:
                _check_header(doc)
                first = False
                yield doc
            else:
                yield IndexEntry.from_json(doc)
    rest += unzip.flush()
    if rest.strip():
        raise IndexError_("The session index ends in the middle of a line.")


def _check_header(doc: dict[str, Any]) -> None:
    if doc.get("format") != INDEX_FORMAT:
        raise IndexError_("The member is not a tapir session index.")
    if doc.get("format_version", 0) > INDEX_VERSION:
        raise IndexError_(
            f"The session index has format version {doc['format_version']}; this tapir reads "
            f"version {INDEX_VERSION} and older: upgrade tapir to read it."
        )


@dataclass(frozen=True)
class Trailer:
    index_volume: int
    index_record: int
    index_offset: int
    index_size: int
    members: int
    records: int
    """Records of this volume part, trailer included (the session's tape file length)."""
    volume: int
    session: dict[str, Any]
    format_version: int = TRAILER_VERSION

    def to_bytes(self) -> bytes:
        doc = {
            "format": TRAILER_FORMAT,
            "format_version": self.format_version,
            "index_volume": self.index_volume,
            "index_record": self.index_record,
            "index_offset": self.index_offset,
            "index_size": self.index_size,
            "members": self.members,
            "records": self.records,
            "volume": self.volume,
            "session": self.session,
        }
        return json.dumps(doc, separators=(",", ":")).encode("ascii") + b"\n"


def find_trailer(tail: bytes | memoryview) -> Trailer:
    """The trailer from the last records of a session part (two records always suffice).
    Raises ``IndexError_`` when there is none (a session cut by a power loss)."""
    data = bytes(tail)
    last = len(data) // h.BLOCK - 1
    while last >= 0 and h.is_zero_block(data[last * h.BLOCK : (last + 1) * h.BLOCK]):
        last -= 1
    for block in range(last - 1, max(-1, last - TRAILER_SCAN_BLOCKS), -1):
        raw = data[block * h.BLOCK : (block + 1) * h.BLOCK]
        if not raw.startswith(TRAILER_MEMBER + b"\0"):
            continue
        try:
            fields = h.decode_ustar(raw)
        except h.HeaderError:
            continue
        size = int(fields["size"])  # type: ignore[call-overload]
        body = data[(block + 1) * h.BLOCK : (block + 1) * h.BLOCK + size]
        return _trailer_from(body)
    raise IndexError_("No session trailer at the end of the data: the session is incomplete.")


def _trailer_from(body: bytes) -> Trailer:
    try:
        doc = json.loads(body)
        if doc.get("format") != TRAILER_FORMAT:
            raise ValueError("not a tapir trailer")
    except ValueError as exc:
        raise IndexError_(f"The session trailer is damaged: {exc}.") from exc
    if doc["format_version"] > TRAILER_VERSION:
        raise IndexError_(
            f"The session has format version {doc['format_version']}; this tapir reads "
            f"version {TRAILER_VERSION} and older: upgrade tapir to read it."
        )
    return Trailer(
        index_volume=doc["index_volume"],
        index_record=doc["index_record"],
        index_offset=doc["index_offset"],
        index_size=doc["index_size"],
        members=doc["members"],
        records=doc["records"],
        volume=doc["volume"],
        session=doc["session"],
        format_version=doc["format_version"],
    )
