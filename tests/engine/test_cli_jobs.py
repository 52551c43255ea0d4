"""``tapir jobs list|history|show`` as a user runs it (real subprocesses) on a catalog
populated through the stores: vocabularies, filters, sorting, ``--exceptions``, ``--changes``,
``--json``, and one-line errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.catalog.db import open_catalog
from engine.catalog.files_model import Change, FileRow, SessionPart
from engine.catalog.files_store import FilesStore
from engine.catalog.jobs_store import JobsStore
from engine.jobs.states import CompletionStatus, JobState
from tests.engine.cli_util import one_error_line
from tests.hwsim.daemon_util import REPO, cli_env

T0 = datetime(2025, 3, 1, 22, 0, tzinfo=UTC)
H = timedelta(hours=1)
S, C = JobState, CompletionStatus
PARALLEL = 4


def ended(
    jobs: JobsStore, job: int, status: CompletionStatus, at: datetime, **counters: int
) -> int:
    jobs.transition(job, S.QUEUED, actor="sched", reason="Scheduled.", now=at)
    jobs.transition(job, S.RUNNING, actor="sched", reason="Started.", now=at)
    run = jobs.start_run(job, level="full", now=at)
    jobs.end_run(run.id, status, counters=counters, now=at + H)
    jobs.transition(job, S.ENDED, actor="sched", reason="Done.", status=status, now=at + H)
    return run.id


@pytest.fixture
def catalog(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as cat:
        jobs, files = JobsStore(cat), FilesStore(cat)
        good = jobs.create_job("backup", "home", {"client": "alpha", "source": "/home"}, now=T0)
        ended(jobs, good, C.COMPLETED, T0, files=10, bytes=5000)
        warn = jobs.create_job("backup", "data", {"client": "beta", "source": "/srv"}, now=T0)
        run = ended(jobs, warn, C.COMPLETED_WITH_EXCEPTIONS, T0 + 2 * H, files=3, exceptions=2)
        session = files.open_session(run, "lib1", "/srv", record_size=512)
        files.add_part(session, SessionPart(1, "A00001L8", 1, 0))
        files.add_files(
            session,
            [
                FileRow(
                    path=b"/srv/ok",
                    kind="file",
                    size=7,
                    part=1,
                    record=0,
                    offset=0,
                    change=Change.ADDED,
                ),
                FileRow(
                    path=b"/srv/caf\xe9",
                    kind="file",
                    part=1,
                    record=1,
                    offset=0,
                    change=Change.CHANGED,
                    exception_category="corrupted",
                    exception_code="read_error",
                    exception_sentence="/srv/caf\\xe9: read error (EIO) at offset 4096",
                    exception_offset=4096,
                ),
                FileRow(
                    path=b"/srv/locked",
                    kind="file",
                    exception_category="skipped",
                    exception_code="permission_denied",
                    exception_sentence="/srv/locked: permission denied",
                ),
                FileRow(path=b"/srv/gone", kind="file", change=Change.DELETED),
            ],
        )
        early = jobs.create_job("restore", "fetch", {"client": "alpha"}, priority=1, now=T0 + 5 * H)
        jobs.transition(early, S.QUEUED, actor="admin", reason="Submitted.", now=T0 + 5 * H)
        jobs.transition(
            early,
            S.ENDED,
            actor="admin",
            reason="Canceled by admin.",
            status=C.CANCELED,
            now=T0 + 6 * H,
        )
        waiting = jobs.create_job("backup", "mail", {"client": "beta"}, priority=50, now=T0 + 7 * H)
        jobs.transition(waiting, S.QUEUED, actor="sched", reason="Scheduled.", now=T0 + 7 * H)
        jobs.transition(
            waiting,
            S.WAITING,
            actor="dispatcher",
            reason="No drives available for reservation.",
            now=T0 + 7 * H,
        )
    return url


def tapir(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = cli_env(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env.pop("TAPIR_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_all(tmp_path: Path, *calls: tuple[str, ...]) -> list[subprocess.CompletedProcess]:
    """Several invocations at once: each pays ~1 s of imports and catalog opening."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda args: tapir(tmp_path, *args), calls))


def ok_all(tmp_path: Path, *calls: tuple[str, ...]) -> list[str]:
    results = run_all(tmp_path, *calls)
    for args, result in zip(calls, results, strict=True):
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return [r.stdout for r in results]


def ok(tmp_path: Path, *args: str) -> str:
    result = tapir(tmp_path, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_list_in_each_vocabulary(tmp_path: Path, catalog: str) -> None:
    expected = {
        "tapir": ["COMPLETED", "COMPLETED_WITH_EXCEPTIONS", "CANCELED", "WAITING"],
        "backupexec": ["Successful", "Completed with exceptions", "Canceled", "WAITING"],
        "hmc": ["COMPLETED_OK", "COMPLETED_WITH_WARNINGS", "CANCELED_BEFORE_START", "NOT_STARTED"],
        "history": ["Up to Date", "Modified", "Failed", "Pending"],
        "ccp": ["Finished", "Finished", "Cancelled", "Queued"],
        "commvault": ["Completed", "Completed w/ one or more warnings", "Killed", "Waiting"],
    }
    calls = [("jobs", "list", "--as", v, "--catalog", catalog, "--json") for v in expected]
    for (vocab, words), doc in zip(expected.items(), ok_all(tmp_path, *calls), strict=True):
        assert [r["shown"] for r in json.loads(doc)] == words, vocab


def test_list_filters_and_sorts(tmp_path: Path, catalog: str) -> None:
    cases: dict[tuple[str, ...], list[str]] = {
        ("--type", "backup", "--client", "beta", "--sort", "-name"): ["mail", "data"],
        ("--status", "waiting", "--status", "completed_with_exceptions"): ["data", "mail"],
        ("--as", "backupexec", "--status", "Canceled", "--until", "2025-03-02"): ["fetch"],
        ("--sort", "priority", "--since", "2025-03-01T23:30:00+00:00", "--limit", "3"): [
            "fetch",
            "mail",
            "data",
        ],
    }
    calls = [("jobs", "list", "--catalog", catalog, "--json", *args) for args in cases]
    table = ("jobs", "list", "--as", "commvault", "--client", "beta", "--catalog", catalog)
    *docs, text = ok_all(tmp_path, *calls, table)
    for (args, names), out in zip(cases.items(), docs, strict=True):
        assert [r["name"] for r in json.loads(out)] == names, args
    assert "Completed w/ one or more warnings" in text and "home" not in text
    assert "No drives available for reservation." in text


def test_history_one_row_per_run(tmp_path: Path, catalog: str) -> None:
    hmc, table = ok_all(
        tmp_path,
        ("jobs", "history", "--as", "hmc", "--catalog", catalog, "--json"),
        (
            "jobs",
            "history",
            "--sort",
            "-files",
            "--status",
            "Up to Date",
            "--as",
            "history",
            "--catalog",
            catalog,
        ),
    )
    rows = json.loads(hmc)
    assert [(r["name"], r["shown"]) for r in rows] == [
        ("home", "COMPLETED_OK"),
        ("data", "COMPLETED_WITH_WARNINGS"),
        ("fetch", "CANCELED_BEFORE_START"),
    ]
    assert [r["run"]["files"] for r in rows] == [10, 3, 0]
    assert "home" in table and "data" not in table and "fetch" not in table


def test_show_with_exceptions_and_changes(tmp_path: Path, catalog: str) -> None:
    out, text, waiting, missing = run_all(
        tmp_path,
        ("jobs", "show", "2", "--exceptions", "--changes", "--catalog", catalog, "--json"),
        ("jobs", "show", "2", "--exceptions", "--as", "backupexec", "--catalog", catalog),
        ("jobs", "show", "4", "--catalog", catalog),
        ("jobs", "show", "2", "--run", "5", "--catalog", catalog),
    )
    assert one_error_line(missing, 2) == "Job 2 has no run 5; it has 1 run(s)."
    out, text, waiting = out.stdout, text.stdout, waiting.stdout
    doc = json.loads(out)
    assert doc["status"] == "COMPLETED_WITH_EXCEPTIONS"
    assert doc["spec"] == {"client": "beta", "source": "/srv"}
    assert [(e["path"], e["category"], e["code"], e["offset"]) for e in doc["exceptions"]] == [
        ("/srv/caf\\xe9", "corrupted", "read_error", 4096),
        ("/srv/locked", "skipped", "permission_denied", None),
    ]
    assert [(c["change"], c["path"]) for c in doc["changes"]] == [
        ("changed", "/srv/caf\\xe9"),
        ("deleted", "/srv/gone"),
        ("added", "/srv/ok"),
    ]
    assert [t["new"] for t in doc["transitions"]] == ["NOT_SUBMITTED", "QUEUED", "RUNNING", "ENDED"]
    assert "Completed with exceptions" in text and "permission_denied" in text
    assert "/srv/locked: permission denied" in text and "Exceptions of run 1: 2 file(s)" in text
    assert "/srv/gone" not in text  # changes not asked for
    assert "Reason: No drives available for reservation. (dispatcher)" in waiting


def test_errors_are_one_line(tmp_path: Path, catalog: str) -> None:
    show, sort, date, history = run_all(
        tmp_path,
        ("jobs", "show", "99", "--catalog", catalog),
        ("jobs", "list", "--sort", "colour", "--catalog", catalog),
        ("jobs", "list", "--since", "yesterday", "--catalog", catalog),
        ("jobs", "history", "--job", "42", "--catalog", catalog),
    )
    assert one_error_line(show, 2).startswith("Job 99 is not in the catalog")
    assert one_error_line(sort, 2).startswith("Cannot sort by 'colour'; columns: bytes, client")
    assert one_error_line(date, 2) == (
        "--since 'yesterday' is not an ISO 8601 date or time (e.g. 2025-03-01T22:00)."
    )
    assert one_error_line(history, 2) == "Job 42 is not in the catalog."


def test_default_catalog_and_empty_list(tmp_path: Path) -> None:
    assert ok(tmp_path, "jobs", "list").strip() == "no jobs match"
    assert (tmp_path / "home" / "catalog.sqlite").is_file()
