"""FilesStore and BaseView on real SQLite files: checkpoint batches (all or nothing), exact
non-UTF-8 paths, directory listings, versions, incremental chains with deletions found by the
base view, changes and exceptions of a run, sessions spanning volumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from engine.backup.levels import Level, PreviousRecord
from engine.backup.scan import Kind
from engine.catalog.base_view import BaseView
from engine.catalog.files_model import Change, FileRow, SessionPart, split_path
from engine.catalog.files_store import FilesStore, UnknownSession
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus

T0 = datetime(2025, 3, 1, 22, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ROOT = b"/srv/data"
NON_UTF8 = b"/srv/data/caf\xe9-\xff.txt"


def stored(
    path: bytes,
    kind: Kind = Kind.FILE,
    *,
    size: int = 10,
    mtime: int = 1,
    record: int = 0,
    change: Change | None = Change.ADDED,
    **extra: object,
) -> FileRow:
    return FileRow(
        path=path,
        kind=kind.value,
        size=size,
        mtime_ns=mtime,
        ctime_ns=mtime,
        inode=hash(path) & 0xFFFF,
        mode=0o100644,
        uid=1000,
        gid=1000,
        uname="ann",
        gname="staff",
        part=1,
        record=record,
        offset=512,
        checksum=bytes(range(16)),
        change=change,
        **extra,
    )  # type: ignore[arg-type]


def directory(path: bytes, change: Change | None = Change.ADDED) -> FileRow:
    return stored(path, Kind.DIRECTORY, size=0, change=change)


def backup_run(
    jobs: JobsStore,
    files: FilesStore,
    job: int,
    rows: list[FileRow],
    *,
    day: int,
    level: Level = Level.FULL,
    base: int | None = None,
) -> int:
    """One completed run of ``job`` recording ``rows`` in two checkpoint batches."""
    at = T0 + day * DAY
    run = jobs.start_run(job, level=level.value, base_run_id=base, now=at)
    session = files.open_session(run.id, "lib1", ROOT, record_size=262144, now=at)
    files.add_part(session, SessionPart(1, "A00001L8", day + 1, 0))
    half = len(rows) // 2
    assert files.add_files(session, rows[:half]) == half
    files.add_files(session, rows[half:])
    files.close_part(session, 1, 100)
    files.end_session(session, files=len(rows), bytes=0, now=at)
    jobs.end_run(run.id, CompletionStatus.COMPLETED, now=at + timedelta(hours=1))
    return run.id


FULL_TREE = [
    directory(ROOT),
    stored(ROOT + b"/a.txt", size=1),
    stored(ROOT + b"/b.txt", size=2),
    stored(NON_UTF8, link_target=b"\xfe\xfd", link_group=7),
    directory(ROOT + b"/old"),
    stored(ROOT + b"/old/x", size=3),
    directory(ROOT + b"/old/deep"),
    stored(ROOT + b"/old/deep/y", size=4),
    directory(ROOT + b"/sub"),
    stored(ROOT + b"/sub/keep", size=5),
]


def test_paths_split_and_non_utf8_round_trip(jobs: JobsStore, files: FilesStore, job: int) -> None:
    assert split_path(b"/") == (b"", b"/")
    assert split_path(b"/srv") == (b"/", b"srv")
    assert split_path(b"rel/x") == (b"rel", b"x")
    run = backup_run(jobs, files, job, FULL_TREE, day=0)
    listing = files.list_directory(ROOT, run)
    assert [r.name for r in listing] == [b"a.txt", b"b.txt", b"caf\xe9-\xff.txt", b"old", b"sub"]
    odd = files.lookup(NON_UTF8, run)
    assert odd is not None
    assert (odd.path, odd.link_target, odd.link_group, odd.checksum) == (
        NON_UTF8,
        b"\xfe\xfd",
        7,
        bytes(range(16)),
    )
    assert (odd.uname, odd.mode, odd.part, odd.offset, odd.stored, odd.clean) == (
        "ann",
        0o100644,
        1,
        512,
        True,
        True,
    )
    assert files.list_directory("/srv", run)[0].path == ROOT  # str paths are fsencoded
    assert files.lookup(ROOT + b"/nope", run) is None


def test_a_batch_is_all_or_nothing(jobs: JobsStore, files: FilesStore, job: int) -> None:
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", ROOT, record_size=512)
    files.add_files(session, [stored(ROOT + b"/1")])
    bad = FileRow(path=ROOT + b"/3", kind=None)  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError):
        files.add_files(session, [stored(ROOT + b"/2"), bad])
    assert files.count(run.id) == 1
    with pytest.raises(UnknownSession):
        files.add_files(999, [stored(ROOT + b"/4")])
    assert files.add_files(session, []) == 0


def test_sessions_span_volumes(jobs: JobsStore, files: FilesStore, job: int) -> None:
    run = jobs.start_run(job)
    session = files.open_session(run.id, "lib1", "/srv/data/", record_size=262144)
    files.add_part(session, SessionPart(1, "A00001L8", 3, 1200))
    files.close_part(session, 1, 9000)
    files.add_part(session, SessionPart(2, "A00002L8", 1, 0))
    assert files.parts(session) == [
        SessionPart(1, "A00001L8", 3, 1200, 9000),
        SessionPart(2, "A00002L8", 1, 0, None),
    ]
    [row] = files.sessions(run.id)
    assert (row.source, row.target, row.ended_at) == (ROOT, "lib1", None)


def incremental(jobs: JobsStore, files: FilesStore, base: int) -> tuple[BaseView, list[FileRow]]:
    """Scan order of the tree after: a.txt edited, b.txt unchanged, non-UTF-8 name unchanged,
    old/ gone with its subtree, sub/keep unchanged, sub/new added, c.txt added, a read error."""
    view = BaseView(files, base, ROOT)
    rows: list[FileRow] = []
    scan = [
        (".", Kind.DIRECTORY),
        ("a.txt", Kind.FILE),
        ("b.txt", Kind.FILE),
        ("c.txt", Kind.FILE),
        ("caf\udce9-\udcff.txt", Kind.FILE),
        ("sub", Kind.DIRECTORY),
        ("sub/keep", Kind.FILE),
        ("sub/new", Kind.FILE),
    ]
    for relpath, kind in scan:
        rows += view.seen(relpath, kind)
    rows += view.finish()
    return view, rows


def test_incremental_chain_deletions_and_changes(
    jobs: JobsStore, files: FilesStore, job: int
) -> None:
    full = backup_run(jobs, files, job, FULL_TREE, day=0)
    view, deletions = incremental(jobs, files, full)
    assert [(r.path, r.kind, r.change) for r in deletions] == [
        (ROOT + b"/old", "directory", Change.DELETED),
        (ROOT + b"/old/deep", "directory", Change.DELETED),
        (ROOT + b"/old/deep/y", "file", Change.DELETED),
        (ROOT + b"/old/x", "file", Change.DELETED),
    ]
    assert view.queries == 2  # root and sub: one query per directory
    assert view.lookup("b.txt") == PreviousRecord(
        Kind.FILE, 2, 1, 1, hash(ROOT + b"/b.txt") & 0xFFFF
    )
    assert view.lookup("c.txt") is None
    assert view("sub/keep") is not None  # a levels.Lookup
    rows = [
        directory(ROOT, Change.UNCHANGED),
        stored(ROOT + b"/a.txt", size=99, mtime=2, change=Change.CHANGED),
        stored(ROOT + b"/c.txt"),
        directory(ROOT + b"/sub", Change.UNCHANGED),
        stored(ROOT + b"/sub/new"),
    ]
    incr = backup_run(jobs, files, job, rows + deletions, day=1, level=Level.INCREMENTAL, base=full)

    assert files.chain(incr) == [incr, full]
    after = {r.name: r for r in files.list_directory(ROOT, incr)}
    assert sorted(after) == [b"a.txt", b"b.txt", b"c.txt", b"caf\xe9-\xff.txt", b"sub"]
    assert (after[b"a.txt"].size, after[b"a.txt"].run_id, after[b"b.txt"].run_id) == (
        99,
        incr,
        full,
    )
    assert [r.name for r in files.list_directory(ROOT + b"/sub", incr)] == [b"keep", b"new"]
    assert files.list_directory(ROOT + b"/old", incr) == []
    assert [r.name for r in files.list_directory(ROOT + b"/old", full)] == [b"deep", b"x"]
    assert {r.path: r.change for r in files.changes(incr)} == {
        ROOT + b"/a.txt": Change.CHANGED,
        ROOT + b"/c.txt": Change.ADDED,
        ROOT + b"/sub/new": Change.ADDED,
        **{r.path: Change.DELETED for r in deletions},
    }
    prev = files.previous_map(incr, ROOT)
    assert prev[ROOT + b"/a.txt"].size == 99 and ROOT + b"/old/x" not in prev and NON_UTF8 in prev
    assert sorted(prev) == sorted(
        [
            ROOT,
            NON_UTF8,
            *(
                ROOT + n
                for n in (b"/a.txt", b"/b.txt", b"/c.txt", b"/sub", b"/sub/keep", b"/sub/new")
            ),
        ]
    )
    assert [s.level for s in files.run_summaries(job)] == [Level.FULL, Level.INCREMENTAL]

    # the same scan against the incremental: nothing more is deleted
    assert incremental(jobs, files, incr)[1] == []


def test_file_that_became_a_directory_and_back(
    jobs: JobsStore, files: FilesStore, job: int
) -> None:
    full = backup_run(jobs, files, job, FULL_TREE, day=0)
    view = BaseView(files, full, ROOT)
    gone = view.seen(".", Kind.DIRECTORY) + view.seen("old", Kind.FILE)
    assert [r.path for r in gone] == [ROOT + b"/old/deep", ROOT + b"/old/deep/y", ROOT + b"/old/x"]
    assert view.seen("sub", Kind.DIRECTORY) == []
    view.unreadable("sub")  # sub/keep not seen, but its directory could not be listed
    assert [r.path for r in view.finish()] == [ROOT + b"/a.txt", ROOT + b"/b.txt", NON_UTF8]


def test_versions_exceptions_and_as_of(jobs: JobsStore, files: FilesStore, job: int) -> None:
    full = backup_run(jobs, files, job, FULL_TREE, day=0)
    skipped = FileRow(
        path=ROOT + b"/b.txt",
        kind="file",
        change=Change.CHANGED,
        exception_category="skipped",
        exception_code="permission_denied",
        exception_sentence="/srv/data/b.txt: permission denied",
    )
    corrupt = stored(
        ROOT + b"/a.txt",
        size=50,
        change=Change.CHANGED,
        exception_category="corrupted",
        exception_code="read_error",
        exception_sentence="read error",
        exception_offset=4096,
    )
    incr = backup_run(
        jobs,
        files,
        job,
        [directory(ROOT, Change.UNCHANGED), corrupt, skipped],
        day=1,
        level=Level.INCREMENTAL,
        base=full,
    )
    assert [(r.path, r.exception_code, r.stored) for r in files.exceptions(incr)] == [
        (ROOT + b"/a.txt", "read_error", True),
        (ROOT + b"/b.txt", "permission_denied", False),
    ]
    assert files.exceptions(full) == []
    assert files.lookup(ROOT + b"/a.txt", incr).exception_offset == 4096  # type: ignore[union-attr]
    versions = files.versions(ROOT + b"/a.txt")
    assert [(v.run_number, v.row.size) for v in versions] == [(1, 1), (2, 50)]
    assert files.versions(ROOT + b"/a.txt", job_id=job + 1) == []
    at_day0 = files.list_directory_as_of(ROOT, T0 + DAY / 2)
    assert {r.name: r.size for r in at_day0}[b"a.txt"] == 1
    at_day1 = {r.name: r for r in files.list_directory_as_of(ROOT, T0 + 2 * DAY)}
    assert at_day1[b"a.txt"].size == 50 and not at_day1[b"b.txt"].stored
    assert files.list_directory_as_of(ROOT, T0 - DAY) == []
