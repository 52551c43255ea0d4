"""manager.toml: defaults, overrides per job type, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.manager.config import (
    DEFAULT_CLEANUP_MIN,
    ManagerConfigError,
    load_manager_config,
    parse_manager_config,
)
from engine.manager.jobtypes import BUILTIN_TYPES


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAPIR_MANAGER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_manager_config()
    assert config.cleanup_interval_min == DEFAULT_CLEANUP_MIN == 1440
    assert config.job_type("backup") == BUILTIN_TYPES["backup"]
    assert config.policy_for("lib1") is None


def test_declared_preemptability_of_every_type() -> None:
    both = {n for n, t in BUILTIN_TYPES.items() if t.preemptable and t.restartable}
    neither = {n for n, t in BUILTIN_TYPES.items() if not t.preemptable and not t.restartable}
    assert both == {"backup", "verify", "aux_copy", "media_refresh"}
    assert neither == {"label", "erase", "inventory", "export", "catalog_restore"}
    restore = BUILTIN_TYPES["restore"]
    assert restore.restartable and not restore.preemptable
    assert not BUILTIN_TYPES["backup"].may_preempt(BUILTIN_TYPES["backup"])
    assert restore.may_preempt(BUILTIN_TYPES["backup"])
    assert not restore.may_preempt(BUILTIN_TYPES["label"])


def test_overrides() -> None:
    config = parse_manager_config(
        {
            "cleanup_interval_min": 5,
            "storage_policies": {"nightly": {"target": "lib1", "streams": 2}},
            "drive_pools": {"fast": {"library": "lib1", "drives": ["drive0"]}},
            "job_types": {
                "restore": {"preemptable": True, "retry_interval_s": 60, "retry_max_attempts": 3}
            },
        },
        "manager.toml",
    )
    assert config.cleanup_interval_min == 5
    assert config.policy_for("lib1:drive1") is not None
    assert config.policy_for("lib1:drive1").streams == 2  # type: ignore[union-attr]
    assert config.pool_of_drive("lib1", "drive0") == "fast"
    assert config.pool_of_drive("lib1", "drive1") == "lib1"
    restore = config.job_type("restore")
    assert restore.preemptable and restore.restartable
    assert (restore.retry.interval_s, restore.retry.max_attempts) == (60.0, 3)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"lease": 3}, "unknown key 'lease'"),
        ({"lease_s": -1}, "lease_s must be a number >= 0"),
        ({"storage_policies": {"p": {"target": "lib1", "streams": 0}}}, "streams must be"),
        ({"job_types": {"backup": {"preemptible": True}}}, "unknown key 'preemptible'"),
    ],
)
def test_errors_name_the_key(raw: dict[str, object], words: str) -> None:
    with pytest.raises(ManagerConfigError, match=words):
        parse_manager_config(raw, "manager.toml")
