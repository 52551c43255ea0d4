"""``tapir backup`` options turned into values, each refusal one sentence saying what to write.

Every function raises ``BadOption`` (a ``ValueError``) with the whole sentence; the command
turns it into one line on stderr and exit 2 before anything is opened or written.

The target (``--to``) is resolved and checked by the backup job itself
(engine/backup/targets.py), which knows libraries, drives and mount paths.
"""

from __future__ import annotations

import re

from engine.backup.exceptions import InUseAction, InUsePolicy
from engine.backup.patterns import parse as parse_pattern
from engine.format.records import MIN_RECORD_SIZE, check_record_size

MAX_RECORD_SIZE = 16 * 1024 * 1024
"""The largest block LTO drives accept in variable mode (READ BLOCK LIMITS: 8 MiB on some
generations, 16 MiB on the newest); a larger record could not be written as one block."""
RETRY_PREFIX = "retry:"
_RECORD_RE = re.compile(r"^\s*(\d+)\s*([KkMm](?:i?B)?|[Bb])?\s*$")
_BINARY = {"": 1, "B": 1, "K": 1024, "M": 1024 * 1024}


class BadOption(ValueError):
    """An option value tapir cannot use; ``str()`` is the sentence for the user."""


def parse_record_size(text: str) -> int:
    """``262144``, ``256K``, ``256KiB``, ``1M``: K and M are binary (1024), as for ``dd bs=``
    and ``tar -b``; a record is a whole number of 512-byte tar blocks."""
    match = _RECORD_RE.match(text)
    if not match:
        raise BadOption(f"--record-size {text!r}: write a size such as 256K, 1M or 262144.")
    unit = (match.group(2) or "").upper()[:1]
    size = int(match.group(1)) * _BINARY[unit]
    try:
        check_record_size(size)
    except ValueError as exc:
        raise BadOption(f"--record-size {text}: {exc} (e.g. 256K).") from None
    if size > MAX_RECORD_SIZE:
        raise BadOption(
            f"--record-size {text}: at most {MAX_RECORD_SIZE // (1024 * 1024)}M, the largest "
            f"tape block drives accept (at least {MIN_RECORD_SIZE // 1024}K)."
        )
    return size


def parse_in_use(text: str) -> InUsePolicy:
    """``flag`` (store it, flag it), ``skip`` (leave it out, record why), ``retry:N`` (look
    again up to N times, then store and flag), ``retry:N:skip`` (then leave it out)."""
    value = text.strip().lower()
    if value in (InUseAction.FLAG, InUseAction.SKIP):
        return InUsePolicy(InUseAction(value))
    if value.startswith(RETRY_PREFIX):
        count, _, then = value.removeprefix(RETRY_PREFIX).partition(":")
        if count.isdigit() and then in ("", InUseAction.FLAG, InUseAction.SKIP):
            return InUsePolicy(InUseAction(then or InUseAction.FLAG), retries=int(count))
    raise BadOption(f"--in-use {text!r}: write flag, skip, retry:N or retry:N:skip (e.g. retry:3).")


def check_patterns(option: str, patterns: list[str]) -> tuple[str, ...]:
    """The patterns as given, after checking each parses (engine/backup/patterns.py)."""
    for text in patterns:
        try:
            parse_pattern(text)
        except ValueError as exc:
            raise BadOption(f"{option} {text!r}: {exc}") from None
    return tuple(patterns)


_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KkMmGgTt](?:i?B)?|[Bb])?\s*$")
_SIZE_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_checkpoint_bytes(text: str) -> int:
    """``--checkpoint-bytes``: ``16G``, ``512M``, ``1048576`` (binary units), at least 1."""
    match = _SIZE_RE.match(text)
    size = int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").upper()[:1]] if match else 0
    if size < 1:
        raise BadOption(f"--checkpoint-bytes {text!r}: write a size such as 16G, 512M or 1048576.")
    return size
