"""Where a new session is appended on a tape: at end of data, after a filemark.

A session is one tape file ended by its filemark (shared/DESIGN.md "On-media format"). A host
that crashed mid-session (killed, the machine restarted) wrote none, so the records it left
and the next session's would read as one tape file; ``close_cut_file`` ends the cut file first.
A tape whose drive lost power is never appended to (it is SUSPECT), so this is not about power
loss: after one the end of data itself is not trustworthy.
"""

from __future__ import annotations

from devices.tape_drive import TapeDrive


def close_cut_file(tape: TapeDrive) -> bool:
    """At end of data: if the last object before it is not a filemark, write one. True if one
    was written. Leaves the tape at end of data. Raises the drive's errors."""
    at = tape.position()
    tape.space_filemarks(-1)
    before = tape.position()
    tape.space_to_end_of_data()
    if before == at - 1:
        return False
    tape.write_filemarks(1)
    return True
