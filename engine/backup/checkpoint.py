"""Checkpoints: the catalog learns about a file only after the drive flushed its records.

The format stage keeps each member's catalog row with the position where the member ends,
``(volume part, byte offset in the part)``. A checkpoint is:

1. ``boundary`` = the end of the last record handed to the write stage (a member ending in the
   record still being filled is not covered: its bytes are not even written yet);
2. the write stage drains its queue and the device flushes (WRITE FILEMARKS 0 / fsync);
3. the rows whose end is at or before ``boundary`` are sealed and handed to the catalog
   thread, which commits them in transactions of ``COMMIT_ROWS``; the others wait for the
   next checkpoint.
A volume switch writes a filemark, which flushes too; the session's end is the last checkpoint.

Memory stays flat however long the interval: rows beyond ``SPILL_ROWS`` that are already
covered by an emitted record are pickled to a temporary file (rows are then committed from it).

With a staging catalog (engine/catalog/files_staging.py, SQLite) the rows do not wait here:
``StagedRows`` hands them to the catalog thread every ``STAGE_ROWS`` to be inserted, unlisted,
while the run goes on, and keeps only each row's end key (8 bytes); a checkpoint then submits
``Publish(upto)``, which lists the staged rows it covers (one small UPDATE). The insert work
overlaps the backup instead of following it (issue 4 "Speed").

Threads: ``PendingRows`` and ``Checkpoints`` belong to the format stage's thread; the catalog
thread only reads sealed batches and calls ``commit``. A commit failure is job-level: raised
on the format stage's next call.
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
import pickle
import queue
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

from engine.backup.rows import whole_rows
from engine.catalog.files_model import FileRow
from engine.catalog.row_staging import PlainBlob, PlainRows

Key = tuple[int, int]
"""(volume part index from 0, byte position in the part)."""

SPILL_ROWS = 20_000
"""Rows kept in memory before covered ones go to the spill file (~10 MB of rows)."""
COMMIT_ROWS = 5_000
"""Rows per catalog transaction: large enough that a commit's fsync is amortised, small
enough that the parameter list of one insert stays a few MB."""
CATALOG_DEPTH = 2
"""Sealed checkpoints waiting for the catalog thread before the format stage waits."""
STAGE_ROWS = 4_096
"""Rows per staging insert: one thread hand-off and one small transaction per few thousand
rows; times ``CATALOG_DEPTH``, the rows in flight."""
_KEY_SHIFT = 48
"""A key packed in 8 bytes: part index above 2**48 bytes (256 TiB) of position."""

Row = FileRow | tuple[Any, ...]
"""A pending row: a ``FileRow`` or the tuple of its fields (the small-files path)."""
Commit = Callable[[list[Any]], None]
_values = operator.attrgetter(*(f.name for f in dataclasses.fields(FileRow)))
"""A row as the tuple of its fields in declaration order (``FileRow(*values)`` rebuilds it)."""


class Sealed:
    """One checkpoint's rows: the spill file's chunks, then the rows kept in memory."""

    def __init__(self, spill: IO[bytes] | None, chunks: int, rows: list[Row]) -> None:
        self.spill, self.chunks, self.rows = spill, chunks, rows

    def batches(self, size: int = COMMIT_ROWS, *, raw: bool = False) -> Iterator[list[Row]]:
        """Rows in order, ``size`` at a time; ``raw``: rows kept as tuples (of FileRow's
        fields) stay tuples, for a commit that takes them (``FilesStore.add_files``)."""
        if self.spill is not None:
            self.spill.seek(0)
            for _ in range(self.chunks):
                rows = pickle.load(self.spill)
                if not raw:
                    rows = [FileRow(*values) for values in rows]
                yield from _slices(rows, size)
            self.spill.close()
        rows = self.rows
        if not raw:
            rows = [FileRow(*r) if type(r) is tuple else r for r in rows]
        yield from _slices(rows, size)


def _slices(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class PendingRows:
    def __init__(self) -> None:
        self._keys: list[Key] = []
        self._rows: list[Row] = []
        self._spill: IO[bytes] | None = None
        self._chunks = 0
        self.count = 0

    def add(self, row: Row, key: Key, covered: Key) -> None:
        """Keep ``row`` (its member ends at ``key``); ``covered``: the current boundary."""
        self._keys.append(key)
        self._rows.append(row)
        self.count += 1
        if len(self._rows) >= SPILL_ROWS:
            self._spill_upto(covered)

    def extend_blob(self, rows: PlainBlob, keys: list[Key], covered: Key) -> None:
        """``extend_plain`` of rows a reader worker pickled (row_staging.PlainBlob)."""
        self.extend_plain(whole_rows(rows.heads(), rows.part, rows.placed), keys, covered)

    def extend_plain(self, rows: list[Row], keys: list[Key], covered: Key) -> None:
        """``add`` of many rows at once (keys in order, after those added before), each of
        a clean regular file stored whole (row_staging.PlainRows)."""
        self._keys += keys
        self._rows += rows
        self.count += len(rows)
        if len(self._rows) >= SPILL_ROWS:
            self._spill_upto(covered)

    def _spill_upto(self, covered: Key) -> None:
        n = _covered_count(self._keys, covered)
        if not n:
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="tapir-rows-")  # noqa: SIM115
        values = [row if type(row) is tuple else _values(row) for row in self._rows[:n]]
        pickle.dump(values, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self._chunks += 1
        del self._rows[:n]
        del self._keys[:n]

    def cut(self, covered: Key) -> Sealed:
        """Everything at or before ``covered``; the rest stays pending."""
        n = _covered_count(self._keys, covered)
        sealed = Sealed(self._spill, self._chunks, self._rows[:n])
        self._rows = self._rows[n:]
        self._keys = self._keys[n:]
        self._spill, self._chunks = None, 0
        self.count = len(self._rows)
        return sealed

    def __len__(self) -> int:
        return self.count


def _covered_count(keys: list[Key], covered: Key) -> int:
    """How many leading keys are <= covered (keys only grow)."""
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] <= covered:
            lo = mid + 1
        else:
            hi = mid
    return lo


class Staging(Protocol):
    """What ``StagedRows`` needs of the catalog (engine/catalog/files_staging.FileStaging)."""

    def stage(self, rows: list[Row | PlainRows | PlainBlob]) -> int: ...
    def publish(self, upto: int) -> int: ...
    def close(self) -> None: ...


class Publish:
    """A checkpoint with a staging catalog: staged rows 1..``upto`` are covered."""

    __slots__ = ("upto",)

    def __init__(self, upto: int) -> None:
        self.upto = upto


class _Stage:
    __slots__ = ("rows",)

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows


def _pack(key: Key) -> int:
    return (key[0] << _KEY_SHIFT) | key[1]


class StagedRows:
    """``PendingRows`` for a staging catalog (module docstring): same ``add``/``cut``."""

    def __init__(self, catalog: CatalogStage) -> None:
        self._catalog = catalog
        self._keys = array("Q")
        self._rows: list[Row | PlainRows | PlainBlob] = []
        self._buffered = 0
        """Rows in ``_rows`` (a ``PlainRows`` holds many)."""
        self._cut = 0
        """Rows before the keys kept here (covered by earlier checkpoints)."""
        self.count = 0

    def add(self, row: Row, key: Key, covered: Key) -> None:
        self._keys.append((key[0] << _KEY_SHIFT) | key[1])
        self._rows.append(row)
        self._buffered += 1
        if self._buffered >= STAGE_ROWS:
            self._submit()
        self.count += 1

    def _submit(self) -> None:
        self._catalog.submit(_Stage(self._rows))
        self._rows = []
        self._buffered = 0

    def extend_blob(self, rows: PlainBlob, keys: list[Key], covered: Key) -> None:
        """``PendingRows.extend_blob``: the blob goes to the staging as it came."""
        self._extend(rows, keys)

    def extend_plain(self, rows: list[Row], keys: list[Key], covered: Key) -> None:
        """``PendingRows.extend_plain``: the rows go to the staging as one ``PlainRows``
        (its own, cheaper statement)."""
        self._extend(PlainRows(rows), keys)

    def _extend(self, chunk: PlainRows | PlainBlob, keys: list[Key]) -> None:
        self._keys.extend([(volume << _KEY_SHIFT) | at for volume, at in keys])
        self._rows.append(chunk)
        self._buffered += len(keys)
        self.count += len(keys)
        if self._buffered >= STAGE_ROWS:
            self._submit()

    def cut(self, covered: Key) -> Publish:
        """Stage what is buffered; publish everything at or before ``covered``."""
        if self._rows:
            self._submit()
        n = bisect.bisect_right(self._keys, _pack(covered))
        del self._keys[:n]
        self._cut += n
        self.count = len(self._keys)
        return Publish(self._cut)

    def __len__(self) -> int:
        return self.count


class CatalogStage:
    """The thread committing sealed checkpoints in order (or, with ``staging``, staging rows
    and publishing them at checkpoints)."""

    def __init__(
        self, commit: Commit | None, *, raw: bool = False, staging: Staging | None = None
    ) -> None:
        self.commit = commit
        self.staging = staging
        self.raw = raw
        """``commit`` takes row tuples too (``Sealed.batches``)."""
        self.committed = 0
        self.error: BaseException | None = None
        self._queue: queue.Queue[Sealed | Publish | _Stage | None] = queue.Queue(CATALOG_DEPTH)
        self._thread = threading.Thread(target=self._run, name="tapir-catalog", daemon=True)
        self._thread.start()

    def submit(self, sealed: Sealed | Publish | _Stage) -> None:
        self.check()
        self._queue.put(sealed)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Wait for every submitted checkpoint to be committed; raise a commit failure."""
        self._queue.put(None)
        self._thread.join()
        self.check()

    def _run(self) -> None:
        try:
            while (sealed := self._queue.get()) is not None:
                if isinstance(sealed, Sealed):
                    self._commit(sealed)
                elif self.error is None and self.staging is not None:
                    try:
                        if isinstance(sealed, _Stage):
                            self.staging.stage(sealed.rows)
                        else:
                            self.committed += self.staging.publish(sealed.upto)
                    except BaseException as exc:
                        self.error = exc
        finally:
            if self.staging is not None:
                try:
                    self.staging.close()
                except BaseException as exc:
                    self.error = self.error or exc

    def _commit(self, sealed: Sealed) -> None:
        for rows in sealed.batches(raw=self.raw):
            if self.error is not None or self.commit is None:
                continue
            try:
                self.commit(rows)
                self.committed += len(rows)
            except BaseException as exc:
                self.error = exc


class Checkpoints:
    """When to checkpoint (bytes or seconds since the last one) and doing it."""

    def __init__(
        self, every_bytes: int, every_s: float, flush: Callable[[], None], catalog: CatalogStage
    ) -> None:
        self.every_bytes = every_bytes
        self.every_s = every_s
        self.flush = flush
        self.catalog = catalog
        self.pending: PendingRows | StagedRows = (
            StagedRows(catalog) if catalog.staging is not None else PendingRows()
        )
        self.count = 0
        self._last_bytes = 0
        self._last_at = time.monotonic()

    def due(self, written: int) -> bool:
        return written - self._last_bytes >= self.every_bytes or (
            time.monotonic() - self._last_at >= self.every_s
        )

    def run(self, covered: Key, written: int) -> None:
        """Flush the device, then hand the rows ``covered`` includes to the catalog."""
        self.flush()
        self.catalog.submit(self.pending.cut(covered))
        self.count += 1
        self._last_bytes = written
        self._last_at = time.monotonic()
