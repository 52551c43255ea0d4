"""FaultPlan unit tests: triggers fire exactly where declared, the seed replays a plan,
arm/disarm/clear, and to_dict/from_dict keeps counters so a restored plan continues."""

from __future__ import annotations

import pytest

from hwsim.faults import Fault, FaultPlan, FaultSpecError


def moves_until_failure(plan: FaultPlan, limit: int = 20) -> list[int]:
    """The 1-based robot moves at which a failure fired."""
    return [n for n in range(1, limit + 1) if plan.on_move("changer")]


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_robot_failure_fires_on_exactly_the_kth_move(k: int) -> None:
    plan = FaultPlan(seed=1)
    plan.arm(Fault("robot_failure", "changer", nth=k))
    assert moves_until_failure(plan) == [k]
    assert [f.event for f in plan.fired] == [f"move #{k}"]


def test_persistent_rule_fires_from_k_on() -> None:
    plan = FaultPlan()
    plan.arm({"kind": "robot_failure", "target": "changer", "nth": 3, "persistent": True})
    assert moves_until_failure(plan, 6) == [3, 4, 5, 6]


def test_times_limits_firings() -> None:
    plan = FaultPlan()
    plan.arm(Fault("robot_failure", "changer", nth=2, times=2))
    assert moves_until_failure(plan, 8) == [2, 3]


def test_moves_of_another_changer_do_not_count() -> None:
    plan = FaultPlan()
    plan.arm(Fault("robot_failure", "changer", nth=2))
    assert plan.on_move("other") == []
    assert plan.on_move("changer") == []
    assert [a.kind for a in plan.on_move("changer")] == ["robot_failure"]


def test_command_faults_filter_by_device_and_opcode() -> None:
    plan = FaultPlan()
    plan.arm(Fault("hardware_error", "drive0", nth=2, opcode="WRITE_6"))
    assert plan.on_command("drive0", "READ_6") == []
    assert plan.on_command("drive1", "WRITE_6") == []
    assert plan.on_command("drive0", "WRITE_6") == []
    fired = plan.on_command("drive0", "WRITE_6")
    assert [(a.kind, a.target) for a in fired] == [("hardware_error", "drive0")]
    assert plan.on_command("drive0", "WRITE_6") == []


def test_block_faults_fire_at_the_block_for_the_operation() -> None:
    plan = FaultPlan()
    plan.arm(Fault("medium_error", "TAP001L8", at_block=5, op="read", times=None))
    plan.arm(Fault("power_loss", "drive0", at_block=9))
    assert plan.on_block("drive0", "TAP001L8", "write", 5) == []
    assert [a.kind for a in plan.on_block("drive0", "TAP001L8", "read", 5)] == ["medium_error"]
    assert [a.kind for a in plan.on_block("drive1", "TAP001L8", "read", 5)] == ["medium_error"]
    assert plan.on_block("drive0", "TAP002L8", "write", 8) == []
    assert plan.on_block("drive0", "TAP002L8", "read", 9) == []  # power loss listens to writes
    assert [a.kind for a in plan.on_block("drive0", "TAP002L8", "write", 9)] == ["power_loss"]
    assert plan.on_block("drive0", "TAP002L8", "write", 9) == []  # spent


def test_cleaning_after_bytes() -> None:
    plan = FaultPlan()
    plan.arm(Fault("cleaning_required", "drive0", after_bytes=1000))
    assert plan.on_bytes_written("drive0", 999) == []
    assert [a.kind for a in plan.on_bytes_written("drive0", 1000)] == ["cleaning_required"]
    assert plan.on_bytes_written("drive0", 5000) == []


def test_stuck_is_armed_until_cleared() -> None:
    plan = FaultPlan()
    assert not plan.stuck("drive0")
    rule = plan.arm(Fault("stuck_cartridge", "drive0"))
    assert plan.stuck("drive0") and not plan.stuck("drive1")
    assert plan.disarm(rule.id)
    assert not plan.stuck("drive0")
    assert not plan.disarm(rule.id)


def test_arm_assigns_ids_and_clear_by_target() -> None:
    plan = FaultPlan()
    a = plan.arm(Fault("robot_failure", "changer", nth=1))
    b = plan.arm(Fault("drive_offline", "drive0", nth=4))
    c = plan.arm(Fault("not_ready", "drive0", nth=5))
    assert (a.id, b.id, c.id) == (1, 2, 3)
    assert plan.clear("drive0") == 2
    assert [f.id for f in plan.faults] == [a.id]
    assert plan.clear() == 1 and plan.faults == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"kind": "meteor", "target": "d0", "nth": 1}, "unknown fault kind 'meteor'"),
        ({"kind": "power_loss", "target": "", "at_block": 1}, "needs a target"),
        ({"kind": "power_loss", "target": "d0"}, "needs a trigger"),
        ({"kind": "power_loss", "target": "d0", "nth": -1}, "nth must be a whole number"),
        ({"kind": "power_loss", "target": "d0", "probability": 2.0}, "between 0 and 1"),
        ({"kind": "power_loss", "target": "d0", "nth": 1, "when": "now"}, "unknown fault field"),
        ({"kind": "medium_error", "target": "d0", "at_block": 1, "op": "peek"}, "read, write"),
    ],
)
def test_bad_rules_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        FaultPlan().arm(raw)


def test_same_seed_same_random_plan() -> None:
    kwargs = {"drives": ["drive0", "drive1"], "barcodes": ["B00001L8", "A00001L8"], "count": 6}
    one = FaultPlan.random(1234, **kwargs)  # type: ignore[arg-type]
    two = FaultPlan.random(1234, **kwargs)  # type: ignore[arg-type]
    assert one.to_dict() == two.to_dict()
    others = [FaultPlan.random(seed, **kwargs).to_dict()["faults"] for seed in range(5)]  # type: ignore[arg-type]
    assert any(o != one.to_dict()["faults"] for o in others)
    assert "seed=1234" in one.describe()


def test_probability_rules_replay_from_the_seed() -> None:
    def firings(seed: int) -> list[int]:
        plan = FaultPlan(seed=seed)
        plan.arm(Fault("robot_failure", "changer", nth=1, probability=0.3, times=None))
        return moves_until_failure(plan, 60)

    first = firings(77)
    assert first == firings(77)
    assert 0 < len(first) < 60
    assert firings(78) != first


def test_round_trip_keeps_ids_and_counters() -> None:
    plan = FaultPlan(seed=5)
    plan.arm(Fault("robot_failure", "changer", nth=3))
    plan.arm(Fault("medium_error", "A00001L8", at_block=4, op="any", times=None))
    plan.on_move("changer")
    plan.on_move("changer")
    raw = plan.to_dict()
    restored = FaultPlan.from_dict(raw)
    assert restored.to_dict() == raw
    assert restored.seed == 5
    assert restored.on_move("changer")  # third move overall: fires after the restore
    assert restored.arm(Fault("not_ready", "drive0", nth=1)).id == 3


def test_describe_lists_rules() -> None:
    plan = FaultPlan(seed=3)
    plan.arm(Fault("power_loss", "drive0", at_block=812))
    assert plan.describe() == "seed=3: #1 power_loss on drive0 at_block=812"
    assert FaultPlan(seed=4).describe() == "seed=4: no faults"
