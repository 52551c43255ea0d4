"""Reading what a volume holds without the catalog (issue 5 "Without the catalog"): its label,
where each tape file (session part) starts and ends, each session's trailer and index.

Tape, in a few commands rather than a read of the tape (docs/tapir-format.md "Trailer"):
REWIND + READ of the label; SPACE to end of data and READ POSITION (long form: the filemark
count); LOCATE(16) to each tape file (``dest = file``) and READ POSITION for its first block;
then per tape file a LOCATE to its last two records, READ them, find the trailer; the index is
one LOCATE away. A tape file without a trailer is a part of a session continued on another
volume (or a session cut short). Disk volumes (``<session>-p<part>.vol``): the label record,
then one part; the same trailer search in the file's last two records.

Refusals (``ScanRefused``, one sentence naming the volume): no tapir label, a label, trailer or
index of a newer format version, an index that does not parse.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.disk import VOLUME_SUFFIX
from devices.drive_values import RecordKind
from devices.label import Label, StartKind, inspect_volume_start
from devices.tape_drive import LABEL_READ_LEN, TapeDrive
from drivers.ssc_data import LocateDest
from engine.format.index import (
    INDEX_MEMBER,
    IndexEntry,
    IndexError_,
    Trailer,
    find_trailer,
    iter_index,
)
from engine.format.reader import ArchiveReader, FormatError
from engine.restore.sources import DiskSource, TapeSource

TAIL_RECORDS = 2
"""The trailer is always within the last two records of a session part."""
DISK_FIRST_RECORD = 1
"""A disk volume file is the label record, then the part (engine/backup/target_disk.py)."""


class ScanRefused(ValueError):
    """The volume (or one session on it) cannot be read as tapir media; says why."""

    code = "rebuild.refused"


@dataclass(slots=True)
class FoundPart:
    """One tape file (disk: the volume file's part) after the label."""

    volume: str
    tape_file: int
    first_record: int
    """Absolute block (disk: record index in the file) of the part's first record."""
    records: int
    trailer: Trailer | None = None
    """Set on a session's last part; None on parts continued elsewhere or cut short."""


@dataclass(slots=True)
class VolumeScan:
    volume: str
    label: Label
    kind: str
    """``tape`` or ``disk``."""
    parts: list[FoundPart] = field(default_factory=list)
    path: Path | None = None
    """Disk: the volume file."""


def _check_label(volume: str, data: bytes | None) -> Label:
    start = inspect_volume_start(data)
    if start.kind is StartKind.TAPIR and start.label is not None:
        return start.label
    if start.kind is StartKind.NEWER_TAPIR:
        raise ScanRefused(f"{volume}: {start.detail}")
    detail = f" ({start.detail})" if start.detail else ""
    raise ScanRefused(
        f"{volume} holds no tapir label: it starts with {start.kind.value}{detail}; "
        "it was not written by tapir (read it with tar) or its label is lost."
    )


def _trailer(volume: str, tail: bytes) -> Trailer | None:
    """The part's trailer, None when it has none; ``ScanRefused`` for a newer version."""
    try:
        return find_trailer(tail)
    except IndexError_ as exc:
        if "upgrade tapir" in str(exc):
            raise ScanRefused(f"{volume}: {exc}") from exc
        return None


# -- tape ---------------------------------------------------------------------------------


def _locate_file(tape: TapeDrive, number: int) -> int:
    """SSC-4 7.4 LOCATE(16) to the start of tape file ``number``; its first block."""
    tape.driver.locate_16(number, LocateDest.FILE)
    return tape.position()


def scan_tape(tape: TapeDrive, barcode: str, only: int | None = None) -> VolumeScan:
    """The label and every part on the mounted tape (module docstring); with ``only``, just
    tape file ``only`` (``ScanRefused`` when the tape has no such session)."""
    tape.set_block_size(0)
    tape.rewind()
    first = tape.read_record(tape.label_read_len())
    label = _check_label(barcode, first.data if first.kind is RecordKind.DATA else None)
    scan = VolumeScan(label.volume_id, label, "tape")
    tape.space_to_end_of_data()
    end = tape.position()
    filemarks = tape.driver.position_long().file or 0
    numbers = range(1, filemarks + 1) if only is None else range(only, only + 2)
    starts = {n: _locate_file(tape, n) for n in numbers if n <= filemarks}
    for n in numbers if only is None else [only]:
        if n not in starts:
            break
        start = starts[n]
        stop = starts[n + 1] - 1 if n + 1 in starts else end  # its filemark, or end of data
        records = stop - start
        if records <= 0:
            continue
        tape.locate(start + max(0, records - TAIL_RECORDS))
        tail = b"".join(_records(tape, label.record_size, min(records, TAIL_RECORDS)))
        scan.parts.append(FoundPart(barcode, n, start, records, _trailer(barcode, tail)))
    if only is not None and not scan.parts:
        sessions = max(0, filemarks - 1) if end == starts.get(filemarks, end) else filemarks
        raise ScanRefused(
            f"{barcode} has no session {only}: it holds {sessions} (tape files 1 to {sessions})."
        )
    return scan


def _records(tape: TapeDrive, record_size: int, count: int) -> Iterator[bytes]:
    for _ in range(count):
        got = tape.read_record(record_size)
        if got.kind is not RecordKind.DATA:
            return
        yield got.data


def tape_index(
    tape: TapeDrive, part: FoundPart, record_size: int
) -> tuple[dict[str, Any], Iterator[IndexEntry], TapeSource]:
    """The index header and entries of the session whose last part is ``part`` (one LOCATE);
    close the source once the entries are read."""
    assert part.trailer is not None
    source = TapeSource(tape, part.volume, record_size, lambda _seq: None)
    header, entries = _index(source, part, part.first_record + part.trailer.index_record)
    return header, entries, source


def _index(
    source: TapeSource | DiskSource, part: FoundPart, block: int
) -> tuple[dict[str, Any], Iterator[IndexEntry]]:
    trailer = part.trailer
    assert trailer is not None
    source.locate(block)
    try:
        reader = ArchiveReader(
            source,
            record=trailer.index_record,
            offset=trailer.index_offset,
            volume=trailer.index_volume,
        )
        entry = reader.next()
        if entry is None or entry.member.name != INDEX_MEMBER:
            raise FormatError("no session index where the trailer says")
        items = iter_index(chunk for _offset, chunk in reader.chunks())
        header = next(items)
        assert isinstance(header, dict)
        header["_index_mtime_ns"] = entry.member.mtime_ns
    except (FormatError, IndexError_, ValueError, zlib.error, StopIteration) as exc:
        raise ScanRefused(_unreadable(part, exc)) from exc
    return header, _entries(items, part)


def _entries(items: Iterator[object], part: FoundPart) -> Iterator[IndexEntry]:
    try:
        for item in items:
            assert isinstance(item, IndexEntry)
            yield item
    except (FormatError, IndexError_, ValueError, KeyError, TypeError, zlib.error) as exc:
        raise ScanRefused(_unreadable(part, exc)) from exc


def _unreadable(part: FoundPart, exc: Exception) -> str:
    what = "is not valid JSON" if isinstance(exc, json.JSONDecodeError) else f"is damaged ({exc})"
    return (
        f"{part.volume} tape file {part.tape_file}: the session index {what}; nothing of this "
        "session was catalogued (its files can still be read with tar)."
    )


# -- disk ---------------------------------------------------------------------------------


def disk_volume_files(path: Path) -> list[Path]:
    """A volume file, or every volume file of a directory (a mount path), by name."""
    if path.is_dir():
        return sorted(path.glob(f"*{VOLUME_SUFFIX}"))
    if not path.exists():
        raise ScanRefused(f"{path} does not exist.")
    return [path]


def scan_disk(path: Path) -> VolumeScan:
    """The label and the one part of a disk volume file."""
    with open(path, "rb") as f:
        label = _check_label(str(path), f.read(LABEL_READ_LEN))
        size = os.fstat(f.fileno()).st_size
        rs = label.record_size
        records = size // rs - DISK_FIRST_RECORD
        f.seek(max(DISK_FIRST_RECORD, size // rs - TAIL_RECORDS) * rs)
        tail = f.read()
    volume = path.name.removesuffix(VOLUME_SUFFIX)
    scan = VolumeScan(volume, label, "disk", path=path)
    if records > 0:
        scan.parts.append(
            FoundPart(volume, 1, DISK_FIRST_RECORD, records, _trailer(str(path), tail))
        )
    return scan


def disk_index(
    scan: VolumeScan, part: FoundPart
) -> tuple[dict[str, Any], Iterator[IndexEntry], DiskSource]:
    """The index of the session ending in ``part`` of a disk volume (close the source)."""
    assert scan.path is not None and part.trailer is not None
    source = DiskSource(scan.path, scan.volume, scan.label.record_size, lambda _seq: None)
    header, entries = _index(source, part, part.first_record + part.trailer.index_record)
    return header, entries, source
