"""``tapir server`` runs the scheduler: a definition due every minute is submitted by the
server's scheduler tick and run by its dispatcher, all in real processes."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.engine.cli_util import Tapir
from tests.engine.manager.manager_util import wait_until
from tests.engine.manager.test_cli_server import start_server


def test_the_server_submits_and_runs_a_due_definition(tmp_path: Path) -> None:
    src, disk = tmp_path / "src", tmp_path / "disk"
    src.mkdir()
    disk.mkdir()
    (src / "a.txt").write_text("scheduled\n")
    config = tmp_path / "tapir.toml"
    config.write_text(f'[[mount_paths]]\npath = "{disk}"\nreserve = 0\n')
    tapir = Tapir(tmp_path, config=config)
    tapir.ok(
        "job", "create", "often", "--source", str(src), "--to", str(disk),
        "--schedule", "* * * * *", "--window", "1h",
    )  # fmt: skip
    log = tmp_path / "server.log"
    server = start_server(tapir, log)
    try:

        def ended() -> bool:
            rows = tapir.json("jobs", "list")
            return any(r["name"] == "often" and r["state"] == "ENDED" for r in rows)

        wait_until(ended, "the scheduled backup ran", 120)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(60)
    text = log.read_text()
    assert code == 0, text
    assert "tapir scheduler: submitted: jobs 1" in text, text
    first = next(r for r in tapir.json("jobs", "list") if r["id"] == 1)
    assert first["name"] == "often" and first["status"] == "COMPLETED", first
    shown = tapir.json("job", "show", "often")
    assert shown["jobs"][-1]["job"] == 1 and shown["jobs"][-1]["trigger"] == "schedule"
