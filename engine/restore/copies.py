"""Reading copy 2 when copy 1 cannot be read (issue 7: "a second copy is used when one
exists").

A copy holds the same records as copy 1, part for part (engine/copy/stream.py), so a member
is found on copy N at that copy's part's first record + the member's record. Two moments use
it:

- planning (``plan_with_copies``): ``--copy N`` reads every session from copy N; otherwise a
  session with a part on a volume that is missing (outside every library, volume file gone)
  or that the catalog keeps from use (suspect, frozen, retired) is read from its first usable
  copy, when it has one; each file read so is reported as a warning that says why
  (``warn_instead``). Each volume's line in ``--plan`` names the other copies of what it
  holds.
- reading (``CopyFallback``): a member that copy 1 could not read (MEDIUM ERROR) is set aside
  and read from the next copy after the other volumes are done, so the drive is not swapped
  back and forth. It is then reported as a warning naming the volume and block of the
  failure and the copy it came from; without a copy it fails as before (execute.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from devices.media import MediaState
from engine.catalog.copies_store import CopiesStore, SessionCopy
from engine.catalog.files_model import shown as shown_path
from engine.catalog.files_store import FilesStore
from engine.restore.extract import FileResult, Outcome
from engine.restore.plan import (
    DISK,
    TAPE,
    Plan,
    PlanError,
    SessionInfo,
    Step,
    VolumePlan,
    build_plan,
    locate_volumes,
    session_info,
)
from engine.restore.select import Chosen

if TYPE_CHECKING:
    from engine.restore.execute import PlanRunner
    from engine.site import Site

READ_FROM_COPY = "restore.read_from_copy"
MEDIUM_ERROR = "restore.medium_error"  # execute.py's code, for a file no copy could give


def copy_info(base: SessionInfo, copy: SessionCopy) -> SessionInfo:
    """``base`` (copy 1's session) as read from ``copy``."""
    target = copy.target
    kind = DISK if target.startswith("/") and not target.startswith("/dev/") else TAPE
    return SessionInfo(
        base.session_id, target, base.source, base.record_size, copy.parts, kind, copy.copy
    )


def plan_with_copies(
    files: FilesStore, chosen: Iterable[Chosen], site: Site, force: int | None = None
) -> Plan:
    """The media plan (plan.py ``build_plan``) with copies chosen as the module docstring
    says, and where each volume is. Raises ``PlanError`` when copy ``force`` is missing."""
    chosen = list(chosen)
    store = CopiesStore(files.catalog)
    sessions = sorted({c.session_id for c in chosen})
    infos: dict[int, SessionInfo] = {}
    if force is not None and force != 1:
        for sid in sessions:
            copy = store.copy(sid, force)
            if copy is None:
                raise PlanError(
                    f"Session {sid} has no usable copy {force} (see tapir jobs show); "
                    "restore without --copy or with another copy number."
                )
            infos[sid] = copy_info(session_info(files, sid), copy)
    plan = build_plan(files, chosen, infos)
    locate_volumes(plan, site)
    if force is None:
        unusable = _unusable(plan, site)
        instead: dict[int, str] = {}
        for sid in sessions if unusable else ():
            base = session_info(files, sid)
            why = next((unusable[p.volume] for p in base.parts if p.volume in unusable), None)
            copy = next(iter(store.copies(sid)), None)
            if why is not None and copy is not None:
                infos[sid] = copy_info(base, copy)
                instead[sid] = why
        if infos:
            plan = build_plan(files, chosen, infos)
            locate_volumes(plan, site)
            plan.instead = instead
    _name_copies(plan, store)
    return plan


UNUSABLE = frozenset({MediaState.SUSPECT, MediaState.FROZEN, MediaState.RETIRED})
"""Copy 1 on a medium in these states is read from a copy when one exists."""


def _unusable(plan: Plan, site: Site) -> dict[str, str]:
    """Volumes of ``plan`` copy 1 should not be read from -> why (module docstring)."""
    store = site.media_store()
    out = {}
    for v in plan.volumes:
        if v.where is not None and v.where.kind == "outside":
            out[v.volume] = f"{v.volume} is {v.where.describe()}"
            continue
        medium = store.get_medium(v.volume) if v.kind == TAPE else None
        if medium is not None and medium.state in UNUSABLE:
            out[v.volume] = f"{v.volume} is {medium.state.value} ({medium.state_reason})"
    return out


class Instead:
    """Turns the result of a file read from a copy because copy 1's volume is missing or
    kept from use into the warning that says so; other results pass unchanged. Call it on
    each result as it is reported."""

    def __init__(self, plan: Plan) -> None:
        self.instead = plan.instead
        self.sessions = {
            shown_path(s.chosen.row.path): s.session
            for v in plan.volumes
            for s in v.steps
            if s.session.session_id in plan.instead
        }

    def __call__(self, r: FileResult) -> FileResult:
        info = self.sessions.get(r.path)
        if info is None or r.outcome not in (Outcome.RESTORED, Outcome.WARNING):
            return r
        volumes = ", ".join(dict.fromkeys(p.volume for p in info.parts))
        extra = f" ({r.message})" if r.message else ""
        return FileResult(
            r.path,
            Outcome.WARNING,
            f"copy 1 could not be read: {self.instead[info.session_id]}; the file came from "
            f"copy {info.copy} on {volumes}{extra}",
            READ_FROM_COPY,
        )


def _name_copies(plan: Plan, store: CopiesStore) -> None:
    """Each volume's other copies (``copy 2 on SML002L8``), for ``--plan``."""
    for v in plan.volumes:
        sessions = {s.session.session_id: s.session.copy for s in v.steps}
        for sid, reading in sessions.items():
            for c in store.copies(sid) if reading == 1 else ():
                text = f"copy {c.copy} on {', '.join(dict.fromkeys(p.volume for p in c.parts))}"
                if text not in v.copies:
                    v.copies.append(text)
            if reading != 1 and "copy 1 not read" not in v.copies:
                v.copies.append("copy 1 not read")


class CopyFallback:
    """Members copy 1 could not read, read again from the next copy (module docstring)."""

    def __init__(self, files: FilesStore, claim: Callable[[str, str], bool] | None = None) -> None:
        self.files = files
        self.store = CopiesStore(files.catalog)
        self.pending: list[tuple[Step, str, SessionCopy]] = []
        self.claim = claim
        """(barcode, library) -> reserved for this job (the job manager's ``claim``): a copy
        tape is mounted only once it is, so a tape another job writes is never taken."""

    def defer(self, step: Step, why: str) -> bool:
        """Set ``step`` aside for a later copy; False when no copy after this one exists."""
        nxt = next(
            (c for c in self.store.copies(step.session.session_id) if c.copy > step.session.copy),
            None,
        )
        if nxt is None or nxt.part(step.part.seq) is None:
            return False
        self.pending.append((step, why, nxt))
        return True

    def read_pending(self, runner: PlanRunner) -> None:
        """Read every member set aside, copy by copy, through ``runner`` (its mounts, sink
        and report), each result turned into the warning that says where it came from."""
        while self.pending:
            batch, self.pending = self.pending, []
            by_copy: dict[int, list[tuple[Step, str, SessionCopy]]] = {}
            for item in batch:
                by_copy.setdefault(item[2].copy, []).append(item)
            for number, items in sorted(by_copy.items()):
                self._read(runner, number, items)

    def _unreachable(self, volume: VolumePlan) -> str | None:
        """Why copy ``volume`` cannot be mounted now: outside, or in use (another job
        reserved it)."""
        where = volume.where
        if where is None or where.kind == "outside":
            return f"{volume.volume} is {where.describe() if where else 'nowhere'}"
        claim, library = self.claim, where.library
        if volume.kind == TAPE and claim is not None and library is not None:
            return None if claim(volume.volume, library) else f"{volume.volume} is in use"
        return None

    def _read(
        self, runner: PlanRunner, number: int, items: list[tuple[Step, str, SessionCopy]]
    ) -> None:
        infos = {s.session.session_id: copy_info(s.session, c) for s, _w, c in items}
        why = {shown_path(s.chosen.row.path): (w, c, s) for s, w, c in items}
        plan = build_plan(self.files, [s.chosen for s, _w, _c in items], infos)
        locate_volumes(plan, runner.site)
        report = runner.report
        for volume in list(plan.volumes):
            held = self._unreachable(volume)
            if held is None:
                continue
            plan.volumes.remove(volume)
            for step in volume.steps:
                failure = why[shown_path(step.chosen.row.path)][0]
                report(
                    FileResult(
                        shown_path(step.chosen.row.path),
                        Outcome.FAILED,
                        f"{failure}; copy {number} could not be read either: {held}",
                        MEDIUM_ERROR,
                    )
                )

        def said(result: FileResult) -> None:
            found = why.get(result.path)
            if found is None or result.outcome not in (Outcome.RESTORED, Outcome.WARNING):
                report(result)
                return
            failure, copy, step = found
            part = copy.part(step.part.seq)
            volume = part.volume if part is not None else "?"
            extra = f" ({result.message})" if result.message else ""
            report(
                FileResult(
                    result.path,
                    Outcome.WARNING,
                    f"copy {step.session.copy} could not be read: {failure}; the file came "
                    f"from copy {number} "
                    f"on {volume}{extra}",
                    READ_FROM_COPY,
                )
            )

        runner.report = said
        try:
            for volume in plan.volumes:
                runner._volume(volume)
        finally:
            runner.report = report
