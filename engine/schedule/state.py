"""The scheduler's one piece of state the catalog cannot give: how far it has looked at each
definition (``<data dir>/schedule-state.json``, ``{"checked": {NAME: ISO time}}``).

Without it, a definition that was disabled for a week would, once enabled, have its week of
occurrences recorded as MISSED; with it, only the time the scheduler itself was not running
counts. Losing the file is harmless: the latest occurrence in the catalog takes over.
Written atomically (engine/schedule/store.py ``write_atomic``) by the tick that holds the
scheduler lock.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from engine.schedule.store import write_atomic

STATE_FILE = "schedule-state.json"


class SchedulerState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.checked: dict[str, datetime] = {}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            for name, text in raw.get("checked", {}).items():
                self.checked[name] = datetime.fromisoformat(text)
        except (FileNotFoundError, ValueError, AttributeError, TypeError):
            self.checked = {}  # lost or damaged: the catalog's occurrences take over

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"checked": {n: t.isoformat() for n, t in sorted(self.checked.items())}}
        write_atomic(self.path, json.dumps(payload, indent=1).encode(), mode=0o644)
