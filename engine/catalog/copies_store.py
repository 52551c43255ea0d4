"""``CopiesStore``: where copy 2, 3, ... of each session is (schema ``copy_parts``).

A copy job (engine/copy/job.py) records each part as it starts and ends, with ``usable``
false; ``mark_usable`` sets it for all of that job's parts in one transaction once the whole
copy completed. Readers (restore, verify, ``jobs show``, ``media show``) see usable copies
only, unless they ask for every row (``on_volume(..., every=True)``: media show names an
unfinished copy as such).

Each method is one transaction on its own connection: safe from several threads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from engine.catalog.db import Catalog
from engine.catalog.files_model import SessionPart
from engine.catalog.schema import copy_parts, sessions

FIRST_COPY = 2
"""Copy 1 is what the backup wrote (``session_parts``); copies are numbered from 2."""


@dataclass(frozen=True, slots=True)
class SessionCopy:
    """One usable copy of one session: its number, parts and target."""

    session_id: int
    copy: int
    target: str
    parts: tuple[SessionPart, ...]
    job_id: int | None

    def part(self, seq: int) -> SessionPart | None:
        return next((p for p in self.parts if p.seq == seq), None)


@dataclass(frozen=True, slots=True)
class CopyOnVolume:
    session_id: int
    run_id: int
    copy: int
    seq: int
    tape_file: int
    record_count: int | None
    usable: bool
    job_id: int | None


class CopiesStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def next_copy(self, session_ids: Iterable[int]) -> int:
        """The copy number a new copy of these sessions gets (one number for a whole run)."""
        ids = list(session_ids)
        query = sa.select(sa.func.max(copy_parts.c.copy)).where(copy_parts.c.session_id.in_(ids))
        with self.catalog.read() as conn:
            top = conn.execute(query).scalar()
        return max(FIRST_COPY, int(top or 0) + 1)

    def part_started(
        self, session_id: int, copy: int, part: SessionPart, *, target: str, job_id: int | None
    ) -> None:
        with self.catalog.write() as conn:
            conn.execute(
                copy_parts.insert().values(
                    session_id=session_id,
                    copy=copy,
                    seq=part.seq,
                    volume=part.volume,
                    tape_file=part.tape_file,
                    first_record=part.first_record,
                    record_count=None,
                    target=target,
                    copy_job_id=job_id,
                    usable=False,
                )
            )

    def part_ended(self, session_id: int, copy: int, seq: int, record_count: int) -> None:
        t = copy_parts
        with self.catalog.write() as conn:
            conn.execute(
                t.update()
                .where(t.c.session_id == session_id, t.c.copy == copy, t.c.seq == seq)
                .values(record_count=record_count)
            )

    def forget_part(self, session_id: int, copy: int, seq: int) -> None:
        """A part abandoned before it was whole (the tape filled up in it): it is written
        again on the next volume, so its row goes."""
        t = copy_parts
        with self.catalog.write() as conn:
            conn.execute(
                t.delete().where(t.c.session_id == session_id, t.c.copy == copy, t.c.seq == seq)
            )

    def mark_usable(self, job_id: int) -> int:
        """Every part the copy job ``job_id`` wrote becomes usable; returns how many."""
        t = copy_parts
        with self.catalog.write() as conn:
            return conn.execute(
                t.update().where(t.c.copy_job_id == job_id).values(usable=True)
            ).rowcount

    def copies(self, session_id: int) -> list[SessionCopy]:
        """The usable copies of ``session_id``, by copy number."""
        t = copy_parts
        query = (
            sa.select(t)
            .where(t.c.session_id == session_id, t.c.usable.is_(True))
            .order_by(t.c.copy, t.c.seq)
        )
        with self.catalog.read() as conn:
            rows = list(conn.execute(query))
        out: dict[int, list[sa.Row]] = {}
        for r in rows:
            out.setdefault(int(r.copy), []).append(r)
        return [
            SessionCopy(
                session_id,
                copy,
                str(rs[0].target),
                tuple(
                    SessionPart(r.seq, r.volume, r.tape_file, r.first_record, r.record_count)
                    for r in rs
                ),
                rs[0].copy_job_id,
            )
            for copy, rs in sorted(out.items())
        ]

    def copy(self, session_id: int, number: int) -> SessionCopy | None:
        return next((c for c in self.copies(session_id) if c.copy == number), None)

    def of_run(self, run_id: int) -> list[SessionCopy]:
        """Usable copies of every session of ``run_id``."""
        query = sa.select(sessions.c.id).where(sessions.c.run_id == run_id).order_by(sessions.c.id)
        with self.catalog.read() as conn:
            ids = [int(i) for i in conn.execute(query).scalars()]
        return [c for sid in ids for c in self.copies(sid)]

    def on_volume(self, volume: str) -> list[CopyOnVolume]:
        """Every copy part on ``volume`` (usable or not), in tape file order."""
        t = copy_parts
        query = (
            sa.select(t, sessions.c.run_id)
            .join(sessions, sessions.c.id == t.c.session_id)
            .where(t.c.volume == volume)
            .order_by(t.c.tape_file)
        )
        with self.catalog.read() as conn:
            return [
                CopyOnVolume(
                    int(r.session_id),
                    int(r.run_id),
                    int(r.copy),
                    int(r.seq),
                    int(r.tape_file),
                    r.record_count,
                    bool(r.usable),
                    r.copy_job_id,
                )
                for r in conn.execute(query)
            ]
