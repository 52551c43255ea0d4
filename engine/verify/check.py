"""``Checker``: the member sink of a verify (engine/restore/execute.py ``MemberSink``).

Called by ``PlanRunner`` from one thread, once per member, with the member's data chunks;
hashes regular files' data and compares with the catalog's checksum, and checks that a member
stored as a hard link still is one. Nothing is written anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import xxhash

from engine.format.members import Member, MemberKind
from engine.restore.extract import ChecksumMismatch, Outcome


class Checker:
    def __init__(self) -> None:
        self.members = 0
        """Members read (directories, links, special files included)."""
        self.files = 0
        """Regular files whose data was hashed."""
        self.bytes = 0

    def write(
        self,
        rel: bytes,
        member: Member,
        chunks: Iterator[tuple[int, memoryview]],
        *,
        checksum: bytes | None,
        session: int,
        link_source: bytes | None = None,
    ) -> Outcome:
        """Hash ``member``'s data; raises ``ChecksumMismatch`` when it differs from the
        checksum recorded at backup (or a hard link came back as something else)."""
        if link_source is not None and member.kind is not MemberKind.HARDLINK:
            raise ChecksumMismatch(
                f"{os.fsdecode(rel)}: stored as a hard link, but the medium holds a "
                f"{member.kind.name.lower()} member there."
            )
        hasher = xxhash.xxh3_128()
        size = 0
        for _offset, chunk in chunks:
            hasher.update(chunk)
            size += len(chunk)
        self.members += 1
        self.files += member.kind is MemberKind.FILE
        self.bytes += size
        if checksum is not None and hasher.digest() != checksum:
            raise ChecksumMismatch(
                f"the data read back does not match the checksum recorded at backup "
                f"({size} bytes read); the copy on this medium is damaged."
            )
        return Outcome.RESTORED
