"""Files flagged at backup (in use, corrupted) are restored as stored, with a warning that
says so in the outcome, the CLI's lines and its ``--json``; a file skipped at backup is listed
as not stored with the backup's reason; the run ends COMPLETED_WITH_EXCEPTIONS (exit 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backup.job import BackupSpec, run_backup
from engine.backup.pipeline import PipelineOptions
from engine.backup.reader import open_source
from engine.jobs.states import CompletionStatus
from engine.site import Site
from engine.site_config import load_site_config
from tests.engine.backup.test_pipeline import FailingAt
from tests.engine.cli_util import Tapir
from tests.engine.restore.restore_util import restored_at

HOLDER = "import sys; f = open(sys.argv[1], 'ab'); print('ready', flush=True); sys.stdin.read()"


def test_flagged_files_restore_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tapir = Tapir(tmp_path)
    monkeypatch.setenv("TAPIR_HOME", str(tapir.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("TAPIR_CONFIG", raising=False)
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_text("fine\n")
    bad = os.urandom(300_000)
    (src / "bad.bin").write_bytes(bad)
    (src / "busy.log").write_text("being written\n")
    (src / "gone.txt").write_text("vanishes before it is read\n")

    def opener(path: str):
        if path.endswith("gone.txt"):
            os.unlink(path)  # skipped at backup (vanished): in the catalog, not on tape
        raw = open_source(path)
        return FailingAt(raw, 4096) if path.endswith("bad.bin") else raw

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(src / "busy.log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with Site(load_site_config()) as site:
            spec = BackupSpec(str(src), "lib1", tuning=PipelineOptions(opener=opener))
            out = run_backup(spec, site, actor="t")
    finally:
        holder.communicate("", timeout=10)
    assert out.status is CompletionStatus.COMPLETED_WITH_EXCEPTIONS, out.to_dict()

    dst = tmp_path / "dst"
    result = tapir("restore", str(src), "--to", str(dst), "--overwrite", "always", "--json")
    assert result.returncode == 1 and result.stderr == "", result.stderr
    got = json.loads(result.stdout)
    assert got["status"] == "COMPLETED_WITH_EXCEPTIONS" and got["exit_code"] == 1
    assert got["warnings"] == 2 and got["failed"] == 0 and got["restored"] == 4
    assert got["not_stored"] == 1
    flagged = {os.path.basename(f["path"]): f for f in got["files"]}
    assert flagged.keys() == {"bad.bin", "busy.log", "gone.txt"}
    assert flagged["gone.txt"]["outcome"] == "not_stored"
    assert flagged["gone.txt"]["code"] == "restore.skipped"
    assert "not restored: it was skipped at backup" in flagged["gone.txt"]["message"]
    assert "vanished" in flagged["gone.txt"]["message"]
    assert flagged["bad.bin"]["outcome"] == "restored_with_warning"
    assert flagged["bad.bin"]["code"] == "restore.corrupted"
    assert "it was corrupted at backup" in flagged["bad.bin"]["message"]
    assert "read error" in flagged["bad.bin"]["message"]
    assert flagged["busy.log"]["code"] == "restore.in_use"
    assert "it was in use at backup" in flagged["busy.log"]["message"]
    assert "open for writing" in flagged["busy.log"]["message"]
    restored = restored_at(dst, src)
    data = (restored / "bad.bin").read_bytes()
    assert data[:4096] == bad[:4096] and data[4096:] == bytes(len(bad) - 4096), "as stored"
    assert (restored / "busy.log").read_text() == "being written\n"

    text = tapir("restore", str(src), "--to", str(dst), "--overwrite", "always")
    assert text.returncode == 1, text.stderr
    assert "job " in text.stdout and "COMPLETED_WITH_EXCEPTIONS" in text.stdout
    lines = [line.strip() for line in text.stdout.splitlines()]
    assert any(
        line.startswith(
            f"restored_with_warning: {src / 'bad.bin'}: restored as stored, but it "
            "was corrupted at backup"
        )
        for line in lines
    ), text.stdout
    assert any("busy.log: restored as stored, but it was in use at backup" in x for x in lines)
    assert any(x.startswith("not_stored: ") and "gone.txt: not restored" in x for x in lines)
