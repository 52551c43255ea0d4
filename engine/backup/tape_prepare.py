"""Getting a mounted tape ready for a session part: label a scratch tape, check an appendable
one's label and go to its end of data (target_tape.py uses it for libraries and drives).

The labeling policy (target_tape.py module docstring): a scratch medium is (re)labeled with
``force``; a cartridge unknown to the catalog is labeled only if blank; an appendable medium
must carry its own label (volume id = barcode, the catalog's uuid, the session's record size),
then the part starts at end of data, after a filemark (devices/tape_append.py).

The label is read and written in variable-block mode; the session's records, all of the same
size, in fixed-block mode with that size: each record is still one tape block, and one WRITE
may carry several (engine/backup/write_stage.py), as restore's READs do.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.label import Label, StartKind, new_label
from devices.media import MediaState, Medium
from devices.tape_append import close_cut_file
from devices.tape_drive import TapeDrive

VARIABLE_BLOCKS = 0
"""Block size 0: variable-block mode, in which the label (a short record) is read and written."""
LTO_SUFFIX = "L"


def media_type_for(barcode: str) -> str:
    """``TAP001L8`` -> ``LTO-8`` (LTO label specification); anything else: ``tape``."""
    suffix = barcode[-2:].upper()
    if suffix.startswith(LTO_SUFFIX) and suffix[1:].isdigit():
        return f"LTO-{suffix[1]}"
    return "tape"


class MediumRefused(Exception):
    """This cartridge may not be written by this session (the reason is the message)."""


@dataclass(slots=True)
class Mounted:
    """The medium a part is being written to."""

    barcode: str
    tape: TapeDrive
    tape_file: int
    first_record: int
    records: int = 0
    bytes: int = 0
    flushed: int = 0
    """Records of this part known to be on tape (at the last flush or filemark)."""


def prepare(
    tape: TapeDrive,
    barcode: str,
    medium: Medium | None,
    *,
    pool: str,
    record_size: int,
) -> tuple[int, int]:
    """Label or check the loaded tape and position it where the part starts (module doc).
    Returns (tape file number, first block). Raises ``MediumRefused``."""
    tape.set_block_size(VARIABLE_BLOCKS)
    start = tape.read_label()
    if medium is None or medium.state is MediaState.SCRATCH:
        if medium is None and start.kind is not StartKind.BLANK:
            raise MediumRefused(
                f"{barcode} is not in the catalog and holds {start.kind.value}; relabel it with "
                f"tapir media label {barcode} --force to use it"
            )
        kind = medium.media_type if medium is not None else media_type_for(barcode)
        tape.write_label(
            new_label(barcode, pool, kind, record_size=record_size), force=medium is not None
        )
    else:
        _check_label(barcode, medium, start.label, record_size)
        tape.space_to_end_of_data()
        close_cut_file(tape)  # a session cut by a crash ends with its own filemark
    where = tape.driver.position_long()
    tape.set_block_size(record_size)
    return where.file or 0, where.first


def _check_label(barcode: str, medium: Medium, label: Label | None, record_size: int) -> None:
    if label is None or label.volume_id != barcode:
        found = f"label {label.volume_id}" if label is not None else "no tapir label"
        raise MediumRefused(f"{barcode} is appendable in the catalog but carries {found}")
    if medium.volume_uuid and label.uuid != medium.volume_uuid:
        raise MediumRefused(f"{barcode}'s label uuid is not the one the catalog recorded")
    if label.record_size != record_size:
        raise MediumRefused(
            f"{barcode} was labeled for {label.record_size}-byte records, not {record_size}"
        )
