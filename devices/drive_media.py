"""What the tape devices write to the media store: media errors, labeled media, and cleaning
cartridges a drive refused as expired (retired).

Errors go through devices.media_rules.``record_error`` (freeze, drive down, suspect after a
power loss); a medium the store does not know is not tracked there, so its errors are skipped.

Labeling a tape (``TapeDrive.write_label``) registers the medium as scratch in the label's
pool, or, for a medium already known, returns it to scratch (an erase or relabel is the only
way back for a suspect or frozen medium, devices/media.py) and records the new pool, media
type and volume uuid. Retired and cleaning media keep their state.
"""

from __future__ import annotations

import contextlib
import dataclasses

from devices.label import Label
from devices.media import (
    ALLOWED,
    MediaError,
    MediaModelError,
    MediaState,
    MediaStore,
    Medium,
    UnknownMedium,
    erase_to_scratch,
    new_medium,
)
from devices.media_rules import ErrorOutcome, ErrorRules, change_state, record_error


def record_known(store: MediaStore, error: MediaError, rules: ErrorRules) -> ErrorOutcome | None:
    """``record_error`` for a medium the store knows; None for an unknown one."""
    try:
        return record_error(store, error, rules=rules)
    except UnknownMedium:
        return None


def register_label(store: MediaStore, label: Label, *, drive: str, actor: str) -> Medium:
    """Record in ``store`` that ``label`` was just written in ``drive``; returns the medium."""
    reason = f"Labeled in drive {drive}."
    medium = store.get_medium(label.volume_id)
    if medium is None:
        medium, change = new_medium(
            label.volume_id, label.pool, label.media_type, actor=actor, reason=reason
        )
        store.add_medium(medium, change)
    elif medium.state is not MediaState.SCRATCH and MediaState.SCRATCH in ALLOWED[medium.state]:
        medium, change = erase_to_scratch(medium, actor=actor, reason=reason)
        store.record_state_change(medium, change)
    updated = dataclasses.replace(
        medium, pool=label.pool, media_type=label.media_type, volume_uuid=label.uuid
    )
    store.update_medium(updated)
    return updated


def retire_cleaning_cartridge(store: MediaStore, barcode: str, *, drive: str, actor: str) -> None:
    """A drive refused cleaning cartridge ``barcode`` as expired: retire it, if known."""
    medium = store.get_medium(barcode)
    if medium is not None and medium.state is MediaState.CLEANING:
        with contextlib.suppress(MediaModelError):
            reason = f"Expired: refused by drive {drive}."
            change_state(store, barcode, MediaState.RETIRED, reason=reason, actor=actor)
