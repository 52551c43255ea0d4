"""Copying one session record for record: ``copy_session``.

The records of copy 1's parts are read in order (a tape part: LOCATE to its first record, then
its ``record_count`` records; a disk part: its volume file after the label) and each is written
to the destination's ``SessionVolumes`` (engine/backup/targets.py: the same labels, tape files,
filemarks and media states as a backup) as soon as it is read. The records pass through the
archive reader on the way, and each member's data is hashed and compared with the checksum
the catalog recorded at backup: a copy never carries damage forward silently.

Part boundaries are kept: where copy 1 went on to its next volume, the copy does too, so a
member split across volumes continues exactly as the format expects (a GNU multi-volume
continuation at the start of the next part) and a member's (part, record, offset) is the same
in both copies. A destination tape that reaches early warning inside a part is closed (FULL);
the part is written again from its first record on the next tape, and that tape is not
abandoned again for this part (it writes on towards the physical end). The abandoned tape file
stays on the full tape without a trailer, so a rebuild from that tape skips it.

Errors: ``CopyFailed`` (a checksum differs, a part ends early, a source medium error, with the
volume and block); device failures of the destination propagate as the backup's do.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import xxhash

from drivers.errors import MediumError
from engine.backup.targets import SessionVolumes
from engine.catalog.copies_store import CopiesStore
from engine.catalog.files_model import FileRow, SessionPart
from engine.format.reader import ArchiveReader
from engine.restore.execute import STOP_POLL_MEMBERS, STOP_POLL_S, StopRequested


class CopyFailed(Exception):
    """The copy cannot be trusted; the message names the file, volume or block."""

    code = "copy.failed"


class PartSource(Protocol):
    volume: str

    def locate(self, block: int) -> None: ...

    def read_record(self) -> bytes | memoryview | None: ...

    def close(self) -> None: ...


@dataclass
class CopyCounts:
    records: int = 0
    bytes: int = 0
    members: int = 0
    files: int = 0
    volumes: list[str] = field(default_factory=list)


class PartLog:
    """The destination's ``PartRecorder``: rows in ``copy_parts`` under the source part's seq
    (the destination's own seq differs after a part was written again on a fresh tape)."""

    def __init__(
        self, store: CopiesStore, session_id: int, copy: int, target: str, job_id: int | None
    ) -> None:
        self.store, self.session_id, self.copy = store, session_id, copy
        self.target, self.job_id = target, job_id
        self.seq = 1
        self.following: int | None = None
        """Set by ``Tee`` before the destination moves on where copy 1 did: the next part's
        seq, taken once this part has ended."""
        self.abandoning = False
        self.started: list[SessionPart] = []

    def part_started(self, part: SessionPart) -> None:
        mine = SessionPart(self.seq, part.volume, part.tape_file, part.first_record)
        self.started.append(mine)
        self.store.part_started(
            self.session_id, self.copy, mine, target=self.target, job_id=self.job_id
        )

    def part_ended(self, seq: int, record_count: int) -> None:
        if self.abandoning:
            self.store.forget_part(self.session_id, self.copy, self.seq)
            self.started.pop()
        else:
            self.store.part_ended(self.session_id, self.copy, self.seq, record_count)
        if self.following is not None:
            self.seq, self.following = self.following, None


class Tee:
    """The archive reader's ``RecordSource``: each record read from copy 1 is written to the
    destination first (module docstring)."""

    def __init__(
        self,
        parts: tuple[SessionPart, ...],
        open_part: Callable[[SessionPart], PartSource],
        dest: SessionVolumes,
        log: PartLog,
        counts: CopyCounts,
    ) -> None:
        self.parts, self.open_part, self.dest, self.log = parts, open_part, dest, log
        self.counts = counts
        self.index = 0
        self.source: PartSource | None = None
        self.done = 0
        """Records of the current part copied."""
        self.rewritten = False
        self._open(0)

    @property
    def part(self) -> SessionPart:
        return self.parts[self.index]

    def _open(self, index: int) -> None:
        if self.source is not None:
            self.source.close()
        self.index, self.done, self.rewritten = index, 0, False
        self.log.seq = self.part.seq
        self.source = self.open_part(self.part)
        self.source.locate(self.part.first_record)

    def _read(self) -> bytes | memoryview:
        assert self.source is not None
        block = self.part.first_record + self.done
        try:
            record = self.source.read_record()
        except MediumError as exc:
            raise CopyFailed(
                f"medium error reading {self.source.volume} at block {block} (part "
                f"{self.part.seq} of the session): {exc.sentence}; the copy was not made"
            ) from exc
        if record is None:
            raise CopyFailed(
                f"{self.source.volume} part {self.part.seq} ends at block {block}, before the "
                f"{self.part.record_count} records the catalog lists; the copy was not made"
            )
        return record

    def read_record(self) -> bytes | memoryview | None:
        count = self.part.record_count
        if count is not None and self.done >= count:
            return None
        record = self._read()
        warned = self.dest.write_record(memoryview(record))
        self.done += 1
        self.counts.records += 1
        self.counts.bytes += len(record)
        last = count is not None and self.done >= count
        if warned and not last and not self.rewritten:
            self._again()
        return record

    def _again(self) -> None:
        """Early warning inside a part: close this tape (FULL), start the next one and write
        the part's records so far again there (module docstring)."""
        assert self.source is not None
        done = self.done
        self.log.abandoning = True
        try:
            self.dest.next_volume(self.part.seq)
        finally:
            self.log.abandoning = False
        self.rewritten = True
        self.source.locate(self.part.first_record)
        for n in range(done):
            self.done = n
            self.dest.write_record(memoryview(self._read()))
        self.done = done  # the last record read again is the one read_record returns

    def next_volume(self, volume_seq: int) -> bool:
        """The reader wants part ``volume_seq + 1``: end this one where copy 1 ended it."""
        if self.index + 1 >= len(self.parts):
            return False
        self.drain()
        self._move_on()
        return True

    def _move_on(self) -> None:
        self.log.following = self.parts[self.index + 1].seq
        self.dest.next_volume(self.part.seq)
        self._open(self.index + 1)

    def drain(self) -> None:
        """Copy what the reader did not need of this part (its index and end)."""
        while self.read_record() is not None:
            pass

    def finish(self) -> None:
        """After the reader's end: the rest of every remaining part, then the last filemark."""
        self.drain()
        while self.index + 1 < len(self.parts):
            self._move_on()
            self.drain()
        self.dest.finish()
        if self.source is not None:
            self.source.close()


class _Poll:
    """A stop request is asked for at most every ``STOP_POLL_MEMBERS`` members or
    ``STOP_POLL_S`` seconds (execute.py's rule: one catalog read per poll)."""

    def __init__(self) -> None:
        self.since, self.at = 0, time.monotonic()

    def due(self) -> bool:
        self.since += 1
        now = time.monotonic()
        if self.since < STOP_POLL_MEMBERS and now - self.at < STOP_POLL_S:
            return False
        self.since, self.at = 0, now
        return True


def copy_session(
    parts: tuple[SessionPart, ...],
    rows: list[FileRow],
    open_part: Callable[[SessionPart], PartSource],
    dest: SessionVolumes,
    log: PartLog,
    counts: CopyCounts,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Copy one session (module docstring). Raises ``CopyFailed`` or the destination's device
    errors; the caller aborts ``dest`` then."""
    checksums = {
        (r.part, r.record, r.offset): (r.checksum, r.path) for r in rows if r.record is not None
    }
    tee = Tee(parts, open_part, dest, log, counts)
    reader = ArchiveReader(tee)
    poll = _Poll()
    try:
        while (entry := reader.next()) is not None:
            counts.members += 1
            want = checksums.get((entry.volume + 1, entry.record, entry.offset))
            if want is None or want[0] is None:
                continue
            hasher = xxhash.xxh3_128()
            for _offset, chunk in reader.chunks():
                hasher.update(chunk)
            counts.files += 1
            if hasher.digest() != want[0]:
                volume = tee.source.volume if tee.source else "?"
                raise CopyFailed(
                    f"{os.fsdecode(want[1])}: the data read from {volume} "
                    "does not match the checksum recorded at backup; the copy was not made "
                    "(verify the job: copy 1 may be damaged)"
                )
            if should_stop is not None and poll.due() and should_stop():
                raise StopRequested
        tee.finish()
    finally:
        if tee.source is not None:
            with contextlib.suppress(Exception):
                tee.source.close()
