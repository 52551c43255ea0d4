"""A copy of a run that spans tapes: copy 2 keeps copy 1's part boundaries (a file split
across tapes continues where the format expects it), and a copy tape that reaches early
warning inside a part is closed and the part written again from its start on the next tape."""

from __future__ import annotations

import os
from pathlib import Path

from engine.backup.job import BackupSpec, run_backup
from engine.catalog.copies_store import CopiesStore
from engine.catalog.files_store import FilesStore
from engine.copy.job import CopySpec, run_copy
from engine.jobs.states import CompletionStatus
from engine.restore.job import RestoreSpec, run_restore
from tests.engine.backup.backup_util import LIBRARY, MIB, RECORD, make_site, tape_files
from tests.engine.backup.test_targets import small_tapes_only

EIGHT_SMALL = (
    small_tapes_only(LIBRARY)
    .replace("slots = 8", "slots = 10")
    .replace('count = 4\nsuffix = "L8"\nslot = 4', 'count = 8\nsuffix = "L8"\nslot = 1')
    .replace("slot = 8\ncleaning_uses", "slot = 10\ncleaning_uses")
)


def test_a_spanning_run_is_copied_part_for_part_with_a_rewritten_part(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    (big / "a.txt").write_bytes(b"first\n")
    (big / "big.bin").write_bytes(os.urandom(15 * MIB))
    (big / "z.txt").write_bytes(b"last\n" * 1000)
    small = tmp_path / "small"
    small.mkdir()
    (small / "s.bin").write_bytes(os.urandom(2 * MIB))
    with make_site(tmp_path, EIGHT_SMALL) as site:
        spanning = run_backup(BackupSpec(str(big), "lib1", record_size=RECORD), site, actor="t")
        assert spanning.exit_code == 0 and len(spanning.volumes) == 3, spanning.volumes
        little = run_backup(BackupSpec(str(small), "lib1", record_size=RECORD), site, actor="t")
        assert little.exit_code == 0
        first = run_copy(CopySpec(little.job_id, "lib1"), site)  # leaves a tape half full
        assert first.status is CompletionStatus.COMPLETED, first.to_dict()
        out = run_copy(CopySpec(spanning.job_id, "lib1"), site)
        assert out.status is CompletionStatus.COMPLETED, out.to_dict()
        parts = FilesStore(site.catalog()).parts(spanning.session_id)
        (copy,) = CopiesStore(site.catalog()).copies(spanning.session_id)
        restored = run_restore(RestoreSpec((str(big),), root=str(tmp_path / "r"), copy=2), site)
    assert restored.status is CompletionStatus.COMPLETED, restored.to_dict()
    assert (tmp_path / "r" / str(big).lstrip("/") / "big.bin").read_bytes() == (
        big / "big.bin"
    ).read_bytes()
    assert [p.record_count for p in copy.parts] == [p.record_count for p in parts]
    assert not {p.volume for p in copy.parts} & {p.volume for p in parts}
    half_full = first.counts.volumes[0]
    assert half_full not in {p.volume for p in copy.parts}, "its part was written again"
    assert half_full not in out.counts.volumes and copy.parts[0].tape_file == 1
    state = tmp_path / "state"
    for original, copied in zip(parts, copy.parts, strict=True):
        assert (
            tape_files(state, copied.volume)[copied.tape_file]
            == tape_files(state, original.volume)[original.tape_file]
        )
    abandoned = tape_files(state, half_full)
    assert len(abandoned) == 4, "label, the small copy, the abandoned part, end of data"
