"""Backups to the simulated library through ``run_backup``, read back from the cartridge's
recorded tape file with GNU tar and bsdtar and compared with the source."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from devices.media import MediaState
from engine.backup.exceptions import Category, Reason
from engine.backup.job import BackupSpec, run_backup
from engine.backup.job_spec import RunOutcome
from engine.backup.pipeline import PipelineOptions
from engine.backup.reader import FdFile, open_source
from engine.catalog.files_store import FilesStore
from engine.catalog.media_store import CatalogMediaStore
from engine.format.index import find_trailer
from engine.format.reader import ArchiveReader, FileSource, read_index
from engine.jobs.states import CompletionStatus
from tests.engine.backup.backup_util import (
    RECORD,
    differences,
    extract,
    make_site,
    tape_files,
    write_tape_file,
)
from tests.engine.format.trees import build_edge_tree


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPIR_HOME", str(tmp_path / "home"))


@pytest.fixture
def site(tmp_path: Path):
    with make_site(tmp_path) as s:
        yield s


def spec(src: Path, workers_after: int | None = None, **kw: object) -> BackupSpec:
    if "tuning" not in kw:
        kw["tuning"] = PipelineOptions(workers_after=workers_after)
    return BackupSpec(str(src), "lib1", record_size=RECORD, **kw)  # type: ignore[arg-type]


@pytest.fixture(params=[None, 0], ids=["reader-threads", "read-workers"])
def workers(request: pytest.FixtureRequest) -> int | None:
    """Small files read by the reader threads, or by worker processes from the first one."""
    return request.param  # type: ignore[no-any-return]


def test_edge_tree_to_tape_reads_back_with_gnu_tar_and_bsdtar(
    tmp_path: Path, site, workers: int | None
) -> None:
    src = build_edge_tree(tmp_path / "src")
    out = run_backup(spec(src, workers), site, actor="test")
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert out.exit_code == 0
    (barcode,) = out.volumes
    state = tmp_path / "state"
    files = tape_files(state, barcode)
    assert len(files) == 3 and files[-1] == []  # label, session, (end of data)
    assert all(len(r) == RECORD for r in files[1])
    archive = write_tape_file(state, barcode, 1, tmp_path / "session.tar")
    for tool in ("gnutar", "bsdtar"):
        extract(tool, [archive], tmp_path / tool)
        assert differences(src, tmp_path / tool) == [], tool
    trailer = find_trailer(b"".join(files[1][-2:]))
    assert trailer.members == out.counters.files + out.counters.directories + 5
    medium = CatalogMediaStore(site.catalog()).get_medium(barcode)
    assert medium.state is MediaState.APPENDABLE
    assert medium.files_written == 1 and medium.bytes_written == len(files[1]) * RECORD


def test_catalog_rows_point_at_their_members(tmp_path: Path, site, workers: int | None) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(50):
        (src / "sub" / f"f{i:02d}").write_bytes(os.urandom(i * 3000))
    out = run_backup(spec(src, workers), site, actor="test")
    store = FilesStore(site.catalog())
    rows = store.descendants(out.run_id, os.fsencode(src))
    assert len(rows) == 51
    records = tape_files(tmp_path / "state", out.volumes[0])[1]

    class Source:
        def __init__(self, start: int) -> None:
            self.n = start

        def read_record(self):
            if self.n >= len(records):
                return None
            self.n += 1
            return records[self.n - 1]

        def next_volume(self, seq: int) -> bool:
            return False

    for row in rows:
        if row.kind != "file":
            continue
        reader = ArchiveReader(Source(row.record), record=row.record, offset=row.offset)
        entry = next(iter(reader))
        assert os.path.join(os.fsencode(src), entry.member.name) == row.path
        data = reader.read_data()
        assert data == Path(os.fsdecode(row.path)).read_bytes()
        assert row.checksum is not None and len(row.checksum) == 16
    parts = store.parts(out.session_id)
    assert [(p.seq, p.volume, p.tape_file, p.first_record) for p in parts] == [
        (1, out.volumes[0], 1, 2)
    ]
    assert parts[0].record_count == len(records)


class FailingAt:
    """A source file whose reads fail with EIO from ``offset`` on (reader.py's seam)."""

    def __init__(self, raw: FdFile, offset: int) -> None:
        self.raw, self.offset, self.pos = raw, offset, 0

    def readinto(self, buffer: memoryview) -> int:
        if self.pos >= self.offset:
            raise OSError(errno.EIO, "Input/output error")
        n = self.raw.readinto(buffer[: self.offset - self.pos])
        self.pos += n
        return n

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()


class GrowsOnRead:
    """A source file another process appends to while tapir reads it."""

    def __init__(self, raw: FdFile, path: str) -> None:
        self.raw, self.path = raw, path

    def readinto(self, buffer: memoryview) -> int:
        with open(self.path, "ab") as f:
            f.write(b"more")
        return self.raw.readinto(buffer)

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()


def test_file_problems_are_exceptions_and_the_run_goes_on(tmp_path: Path, site) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"fine\n")
    (src / "bad.bin").write_bytes(os.urandom(300_000))  # streamed (larger than small files)
    (src / "bad_small.bin").write_bytes(os.urandom(5000))
    (src / "gone.txt").write_bytes(b"vanishes\n")
    (src / "grows.txt").write_bytes(b"x" * 100_000)
    (src / "z.txt").write_bytes(b"last\n")

    def opener(path: str):
        name = os.path.basename(path)
        if name == "gone.txt":
            os.unlink(path)
        raw = open_source(path)
        if name.startswith("bad"):
            return FailingAt(raw, 4096)
        if name == "grows.txt":
            return GrowsOnRead(raw, path)
        return raw

    out = run_backup(spec(src, tuning=PipelineOptions(opener=opener)), site, actor="test")
    assert out.status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS
    assert out.exit_code == 1
    codes = {(os.path.basename(e.path), e.code) for e in out.exceptions}
    assert codes == {
        ("bad.bin", Reason.READ_ERROR),
        ("bad_small.bin", Reason.READ_ERROR),
        ("gone.txt", Reason.VANISHED),
        ("grows.txt", Reason.CHANGED_WHILE_READING),
    }
    c = out.counters
    assert (c.corrupted, c.skipped, c.in_use) == (2, 1, 1)
    found = FilesStore(site.catalog()).exceptions(out.run_id)
    rows = {os.path.basename(os.fsdecode(r.path)): r for r in found}
    assert rows["bad.bin"].exception_category == Category.CORRUPTED
    assert rows["bad.bin"].exception_offset == 4096 and rows["bad.bin"].stored
    assert rows["gone.txt"].exception_code == Reason.VANISHED and not rows["gone.txt"].stored
    assert rows["grows.txt"].exception_category == Category.IN_USE
    archive = write_tape_file(tmp_path / "state", out.volumes[0], 1, tmp_path / "s.tar")
    extract("gnutar", [archive], tmp_path / "dst")
    got = tmp_path / "dst"
    assert (got / "a.txt").read_bytes() == b"fine\n"
    assert (got / "z.txt").read_bytes() == b"last\n"
    bad = (got / "bad.bin").read_bytes()
    assert bad[:4096] == (src / "bad.bin").read_bytes()[:4096] and not bad[4096:].strip(b"\0")
    assert len(bad) == 300_000
    assert (got / "grows.txt").read_bytes() == b"x" * 100_000  # the size the header announced
    assert not (got / "gone.txt").exists()
    index = {e.path: e for e in _index(tmp_path / "s.tar") if hasattr(e, "path")}
    assert index[b"bad.bin"].exception == "corrupted" and index[b"bad.bin"].error_offset == 4096
    assert index[b"gone.txt"].record == -1 and index[b"gone.txt"].exception == "skipped"


def _index(archive: Path) -> list[object]:
    """The session index, found as a restore finds it: trailer, then one position."""
    data = archive.read_bytes()
    trailer = find_trailer(data[-2 * RECORD :])
    source = FileSource([str(archive)], RECORD, start=trailer.index_record * RECORD)
    reader = ArchiveReader(source, record=trailer.index_record, offset=trailer.index_offset)
    return list(read_index(reader))


def test_file_open_for_writing_is_flagged_in_use(
    tmp_path: Path, site, writer_factory, workers: int | None
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "log.txt").write_bytes(b"log line\n")
    writer_factory(src / "log.txt", hold=True)
    out = run_backup(spec(src, workers), site, actor="test")
    assert out.status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS
    (exc,) = out.exceptions
    assert exc.code is Reason.OPEN_FOR_WRITING and exc.stored
    (row,) = FilesStore(site.catalog()).exceptions(out.run_id)
    assert row.stored and row.exception_category == Category.IN_USE


def test_power_loss_before_a_checkpoint_leaves_only_flushed_files_in_the_catalog(
    tmp_path: Path, site, workers: int | None
) -> None:
    from hwsim.faults import Fault

    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"f{i:02d}").write_bytes(os.urandom(50_000))
    sim_spec = BackupSpec(
        str(src),
        "lib1:drive0",
        record_size=RECORD,
        checkpoint_bytes=400_000,
        drive_wait_s=0.05,
        tuning=PipelineOptions(workers_after=workers),
    )
    state = tmp_path / "state"
    faults = site.endpoints("lib1").drives["drive0"].device.faults
    # label record (0) and filemark (1), then the session from block 2: power lost at 22
    faults.arm(Fault("power_loss", "drive0", at_block=22))
    out = run_backup(sim_spec, site, actor="test")
    assert out.status is CompletionStatus.TIMED_OUT  # power never returned within the wait
    assert "drive0" in (out.error or "")
    rows = FilesStore(site.catalog()).descendants(out.run_id, os.fsencode(src))
    files = tape_files(state, out.volumes[0])
    flushed = len(files[1]) if len(files) > 1 else 0
    assert 0 < len([r for r in rows if r.kind == "file"]) < 40
    for row in rows:  # every listed member ends in a record that reached the tape
        assert row.record is not None and row.record < flushed
        end = row.record * RECORD + row.offset + 512 + row.size
        assert end <= flushed * RECORD
    assert len(files) == 2  # no filemark after the cut session: the drive lost power
    medium = CatalogMediaStore(site.catalog()).get_medium(out.volumes[0])
    assert medium.state is MediaState.SUSPECT  # the drive never answered again: not trusted
    assert "stopped answering while writing" in medium.state_reason


def _assert_whole(tmp_path: Path, site, out: RunOutcome, src: Path, *, files: int) -> None:
    """GNU tar extracts the session byte-identical to ``src``, and the catalog lists its
    ``files`` regular files."""
    archive = write_tape_file(tmp_path / "state", out.volumes[0], 1, tmp_path / "s.tar")
    extract("gnutar", [archive], tmp_path / "dst")
    assert differences(src, tmp_path / "dst") == []
    rows = FilesStore(site.catalog()).descendants(out.run_id, os.fsencode(src))
    assert len([r for r in rows if r.kind == "file"]) == files


def test_a_read_worker_that_dies_mid_backup_leaves_its_files_to_the_reader_thread(
    tmp_path: Path, site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker process is killed (SIGKILL) as its reader sends it the third run: that
    run and every later one of that reader go through the in-process path, and the backup
    is complete and byte-identical."""
    import signal

    from engine.backup.read_worker import ReadWorker

    src = tmp_path / "src"
    for d in range(4):
        (src / f"d{d}").mkdir(parents=True)
        for i in range(200):
            (src / f"d{d}" / f"f{i:03d}").write_bytes(os.urandom(500 + i * 7))
    calls: list[int] = []
    real = ReadWorker.send_plain

    def dying(self: ReadWorker, request: object, *, ahead: bool = False) -> bool:
        calls.append(self._child.proc.pid)
        if len(calls) == 3:
            os.kill(self._child.proc.pid, signal.SIGKILL)
            self._child.proc.wait()
        return real(self, request, ahead=ahead)  # type: ignore[arg-type]

    monkeypatch.setattr(ReadWorker, "send_plain", dying)
    tuning = PipelineOptions(workers_after=0, batch_files=32)  # runs enough for a 4th and on
    out = run_backup(spec(src, tuning=tuning), site, actor="test")
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert out.counters.files == 800 and len(calls) > 3
    killed = calls[2]
    assert calls[3:] and killed not in calls[3:]  # never asked again; the other one was
    _assert_whole(tmp_path, site, out, src, files=800)


def test_a_reader_sends_its_worker_the_next_run_before_taking_the_answer(
    tmp_path: Path, site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs go to a worker ahead of the answers to the runs before (plain_runs
    ``RunReaderStage._run``): each answer is taken for the run it belongs to, every run is
    answered once, and the archive and the catalog are whole."""
    import threading

    from engine.backup.read_worker import ReadWorker

    src = tmp_path / "src"
    for d in range(6):
        (src / f"d{d}").mkdir(parents=True)
        for i in range(300):
            (src / f"d{d}" / f"f{i:03d}").write_bytes(os.urandom(200 + i * 13))
    log: list[tuple[str, str, int]] = []  # (reader thread, "send" or "take", request id)
    real_send, real_receive = ReadWorker.send_plain, ReadWorker.receive_plain

    def send(self: ReadWorker, request: tuple, *, ahead: bool = False) -> bool:  # type: ignore[type-arg]
        sent = real_send(self, request, ahead=ahead)  # type: ignore[arg-type]
        if sent:
            log.append((threading.current_thread().name, "send", id(request)))
        return sent

    def receive(self: ReadWorker, request: tuple) -> object:  # type: ignore[type-arg]
        log.append((threading.current_thread().name, "take", id(request)))
        return real_receive(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(ReadWorker, "send_plain", send)
    monkeypatch.setattr(ReadWorker, "receive_plain", receive)
    out = run_backup(spec(src, 0), site, actor="test")
    assert out.status is CompletionStatus.COMPLETED, out.error
    ahead = 0
    for thread in {name for name, _, _ in log}:
        mine = [(what, rid) for name, what, rid in log if name == thread]
        waiting: list[int] = []
        for what, rid in mine:
            if what == "send":
                waiting.append(rid)
                ahead += len(waiting) == 2
                assert len(waiting) <= 2  # one run ahead at most
            else:
                assert waiting and waiting.pop(0) == rid  # the answer to the oldest run
        assert waiting == []
    assert ahead > 0  # some runs did go ahead
    _assert_whole(tmp_path, site, out, src, files=1800)


def test_the_scan_has_the_read_workers_started_and_no_reader_waits_for_them(
    tmp_path: Path, site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``workers_after`` small files listed, the scan has the workers started, from a
    thread of their own; the readers read in-process until a worker runs. Here a worker
    takes a second to start: every file is read in-process meanwhile (none waited for a
    worker), and the archive is whole."""
    import threading
    import time

    from engine.backup.read_worker import ReadWorker
    from engine.backup.stages import ReaderStage

    src = tmp_path / "src"
    for d in range(3):
        (src / f"d{d}").mkdir(parents=True)
        for i in range(150):
            (src / f"d{d}" / f"f{i:03d}").write_bytes(os.urandom(300 + i))
    asked_by: list[str] = []
    started_by: list[str] = []
    sent: list[object] = []
    real_ask, real_init = ReaderStage._start_workers, ReadWorker.__init__

    def asking(self: ReaderStage) -> None:
        asked_by.append(threading.current_thread().name)
        real_ask(self)

    def slow(self: ReadWorker, *args: object, **kwargs: object) -> None:
        started_by.append(threading.current_thread().name)
        time.sleep(1.0)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ReaderStage, "_start_workers", asking)
    monkeypatch.setattr(ReadWorker, "__init__", slow)
    monkeypatch.setattr(
        ReadWorker, "send_plain", lambda self, request, ahead=False: sent.append(request)
    )
    out = run_backup(spec(src, 200), site, actor="test")
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert asked_by[0] == "tapir-scan"
    assert started_by and set(started_by) == {"tapir-worker-start"}
    assert sent == []
    archive = write_tape_file(tmp_path / "state", out.volumes[0], 1, tmp_path / "s.tar")
    extract("gnutar", [archive], tmp_path / "dst")
    assert differences(src, tmp_path / "dst") == []


def test_the_heap_is_frozen_for_the_collector_only_while_the_pipeline_runs(
    tmp_path: Path, site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects alive before the backup are out of the collector's full passes during it
    (pipeline._frozen_heap) and back in afterwards, also when the run fails."""
    import gc

    from engine.backup.format_stage import FormatStage

    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"a")
    frozen: list[int] = []
    real = FormatStage.add_batch

    def recording(self: FormatStage, items: list) -> None:  # type: ignore[type-arg]
        frozen.append(gc.get_freeze_count())
        real(self, items)

    monkeypatch.setattr(FormatStage, "add_batch", recording)
    before = gc.get_freeze_count()
    out = run_backup(spec(src), site, actor="test")
    assert out.status is CompletionStatus.COMPLETED, out.error
    assert frozen and min(frozen) > before and gc.get_freeze_count() == before

    def failing(self: FormatStage, items: list) -> None:  # type: ignore[type-arg]
        raise OSError(errno.EIO, "injected")

    monkeypatch.setattr(FormatStage, "add_batch", failing)
    failed = run_backup(spec(src), site, actor="test")
    assert failed.status is not CompletionStatus.COMPLETED
    assert gc.get_freeze_count() == before
