"""Values TapeDrive returns: what one READ met, and a drive's status snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.ssc_data import ReadKind


class RecordKind(StrEnum):
    DATA = "data"
    FILEMARK = "filemark"
    END_OF_DATA = "end_of_data"
    END_OF_MEDIUM = "end_of_medium"


@dataclass(frozen=True)
class RecordRead:
    """One READ: a record (``truncated`` when it was longer than asked), or the filemark /
    end of data met instead. In fixed-block mode ``data`` holds the blocks read before it."""

    kind: RecordKind
    data: bytes = b""
    truncated: bool = False


RECORD_KINDS: dict[ReadKind, RecordKind] = {
    ReadKind.DATA: RecordKind.DATA,
    ReadKind.FILEMARK: RecordKind.FILEMARK,
    ReadKind.END_OF_DATA: RecordKind.END_OF_DATA,
    ReadKind.END_OF_MEDIUM: RecordKind.END_OF_MEDIUM,
}


@dataclass(frozen=True)
class DriveState:
    """A snapshot for ``tapir drive status``; ``error`` holds the sentence when it failed."""

    name: str
    serial: str | None = None
    vendor: str | None = None
    model: str | None = None
    revision: str | None = None
    ready: bool = False
    not_ready_reason: str | None = None
    barcode: str | None = None
    position: int | None = None
    block_size: int | None = None
    tapealerts: tuple[str, ...] = ()
    tapealert_flags: tuple[int, ...] = ()
    cleaning_needed: bool = False
    early_warning: bool = False
    error: str | None = None
