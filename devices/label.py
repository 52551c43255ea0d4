"""The volume label: the first tape file of every tapir volume (shared/DESIGN.md "On-media
format": "A tape volume is: a label file, then one tape file per job session").

The label is a POSIX pax (tar) archive with one member, ``TAPIR-LABEL.json``, padded with zeros
to exactly one fixed record (default 256 KiB = one tape block), so ``mt`` + ``tar -tvf`` list it
without tapir. The JSON holds the format name and version, the volume id (barcode), pool, media
type, creation time, a uuid, the labeling host and the record size the volume was written with.
Header encoding is the standard library's ``tarfile`` (pax format).

This module works on bytes only: callers read the first record at BOT (a blank tape gives none)
and write the bytes ``encode_label`` returns, followed by a filemark.

Reading distinguishes: a tapir label (``Label``), a label of a newer format
(``NewerLabelFormat``), a blank volume, another tar archive, and anything else
(``inspect_volume_start``). ``check_may_label`` is the labeling policy: never overwrite data
(a label, a foreign archive, unknown data) unless ``force=True``.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

FORMAT_NAME = "tapir"
FORMAT_VERSION = 1
LABEL_MEMBER = "TAPIR-LABEL.json"
TAR_BLOCK = 512
DEFAULT_RECORD_SIZE = 256 * 1024
"""One record per tape block; 256 KiB keeps LTO drives streaming (shared/DESIGN.md)."""
MIN_RECORD_SIZE = 20 * TAR_BLOCK
"""GNU tar's default blocking factor (20 x 512): tar reads a record this size without options."""
MAX_FIELD_LEN = 256
LABEL_MODE = 0o444
LABEL_OWNER = "tapir"


class LabelError(Exception):
    """Base of label problems; the message is one sentence for the user."""

    code = "label.error"


class NewerLabelFormat(LabelError):
    code = "label.newer_format"


class NotATapirLabel(LabelError):
    """Blank, another tar archive, or unrecognised data: see ``VolumeStart.kind``."""

    code = "label.not_tapir"


class LabelTooLarge(LabelError):
    code = "label.too_large"


class OverwriteRefused(LabelError):
    code = "label.overwrite_refused"


@dataclass(frozen=True)
class Label:
    volume_id: str
    pool: str
    media_type: str
    created: datetime
    uuid: str
    host: str
    record_size: int = DEFAULT_RECORD_SIZE
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for name in ("volume_id", "pool", "media_type", "host"):
            value = getattr(self, name)
            if not value or len(value) > MAX_FIELD_LEN:
                raise ValueError(f"label {name} must be 1 to {MAX_FIELD_LEN} characters")
        if self.created.tzinfo is None:
            raise ValueError("label created time must be timezone-aware")
        _check_record_size(self.record_size)


def new_label(
    volume_id: str,
    pool: str,
    media_type: str,
    *,
    record_size: int = DEFAULT_RECORD_SIZE,
    host: str | None = None,
    now: datetime | None = None,
) -> Label:
    """A fresh label with a new uuid, the current time and this host's name."""
    return Label(
        volume_id=volume_id,
        pool=pool,
        media_type=media_type,
        created=now or datetime.now(UTC),
        uuid=str(uuid.uuid4()),
        host=host or socket.gethostname(),
        record_size=record_size,
    )


def _check_record_size(record_size: int) -> None:
    if record_size < MIN_RECORD_SIZE or record_size % TAR_BLOCK:
        raise ValueError(
            f"record size must be a multiple of {TAR_BLOCK} and at least {MIN_RECORD_SIZE}"
        )


def _to_json(label: Label) -> bytes:
    doc = {
        "format": FORMAT_NAME,
        "format_version": label.format_version,
        "volume_id": label.volume_id,
        "pool": label.pool,
        "media_type": label.media_type,
        "created": label.created.astimezone(UTC).isoformat(),
        "uuid": label.uuid,
        "host": label.host,
        "record_size": label.record_size,
    }
    return (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def encode_label(label: Label) -> bytes:
    """The label record: a pax archive of ``TAPIR-LABEL.json``, zero-padded to exactly
    ``label.record_size`` bytes. Raises ``LabelTooLarge`` if it does not fit one record."""
    body = _to_json(label)
    buf = io.BytesIO()
    info = tarfile.TarInfo(LABEL_MEMBER)
    info.size = len(body)
    info.mtime = int(label.created.timestamp())
    info.mode = LABEL_MODE
    info.uname = info.gname = LABEL_OWNER
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(body))
    data = buf.getvalue()
    if len(data) > label.record_size:
        raise LabelTooLarge(
            f"The label of {label.volume_id} needs {len(data)} bytes, more than one "
            f"{label.record_size}-byte record."
        )
    return data + bytes(label.record_size - len(data))


class StartKind(StrEnum):
    """What the first record of a volume holds."""

    TAPIR = "a tapir label"
    NEWER_TAPIR = "a tapir label of a newer format"
    DAMAGED_TAPIR = "a damaged tapir label"
    BLANK = "blank"
    FOREIGN_TAR = "another tar archive"
    UNKNOWN = "unrecognised data"


@dataclass(frozen=True)
class VolumeStart:
    kind: StartKind
    label: Label | None = None
    detail: str = ""


def inspect_volume_start(data: bytes | memoryview | None) -> VolumeStart:
    """Classify the first record read at BOT (None or empty for a blank tape / empty file).

    Never raises: a newer or damaged tapir label is a kind too, with the sentence in
    ``detail`` (``decode_label`` raises it).
    """
    raw = bytes(data or b"")
    if not raw.strip(b"\0"):
        return VolumeStart(StartKind.BLANK)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            member = tar.next()
            if member is None:
                return VolumeStart(StartKind.UNKNOWN, detail="an empty tar archive")
            if member.name != LABEL_MEMBER or not member.isfile():
                return VolumeStart(StartKind.FOREIGN_TAR, detail=f"first member {member.name!r}")
            extracted = tar.extractfile(member)
            body = extracted.read() if extracted is not None else b""
    except (tarfile.TarError, EOFError) as exc:
        return VolumeStart(StartKind.UNKNOWN, detail=str(exc))
    try:
        return VolumeStart(StartKind.TAPIR, _from_json(body))
    except NewerLabelFormat as exc:
        return VolumeStart(StartKind.NEWER_TAPIR, detail=str(exc))
    except NotATapirLabel as exc:
        return VolumeStart(StartKind.DAMAGED_TAPIR, detail=str(exc))


def decode_label(data: bytes | memoryview | None) -> Label:
    """The label in the first record. Raises ``NewerLabelFormat`` or ``NotATapirLabel``."""
    start = inspect_volume_start(data)
    if start.kind is StartKind.NEWER_TAPIR:
        raise NewerLabelFormat(start.detail)
    if start.kind is StartKind.DAMAGED_TAPIR:
        raise NotATapirLabel(start.detail)
    if start.label is None:
        detail = f" ({start.detail})" if start.detail else ""
        raise NotATapirLabel(
            f"The volume does not start with a tapir label: it holds {start.kind.value}{detail}."
        )
    return start.label


def _from_json(body: bytes) -> Label:
    try:
        doc = json.loads(body)
        if doc.get("format") != FORMAT_NAME:
            raise ValueError(f"format is {doc.get('format')!r}")
        version = doc["format_version"]
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"format version {version!r}")
    except (ValueError, KeyError, AttributeError) as exc:
        raise NotATapirLabel(f"The volume label is damaged: {exc}.") from exc
    if version > FORMAT_VERSION:
        raise NewerLabelFormat(
            f"Volume {doc.get('volume_id', '?')} has a tapir label of format version {version}; "
            f"this tapir reads format version {FORMAT_VERSION} and older: upgrade tapir to "
            "read it."
        )
    try:
        return Label(
            volume_id=doc["volume_id"],
            pool=doc["pool"],
            media_type=doc["media_type"],
            created=datetime.fromisoformat(doc["created"]),
            uuid=doc["uuid"],
            host=doc["host"],
            record_size=doc["record_size"],
            format_version=version,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NotATapirLabel(f"The volume label is damaged: {exc}.") from exc


def check_may_label(start: VolumeStart, *, volume: str, force: bool = False) -> None:
    """The labeling policy: writing a label over anything but a blank volume needs ``force``.

    ``start`` is what the caller read at BOT (``inspect_volume_start``). Raises
    ``OverwriteRefused``.
    """
    if force or start.kind is StartKind.BLANK:
        return
    if start.label is not None:
        what = f"is labeled {start.label.volume_id} (pool {start.label.pool})"
    else:
        what = f"holds {start.kind.value}"
    raise OverwriteRefused(
        f"Volume {volume} {what}; labeling would overwrite it: use --force to relabel."
    )
