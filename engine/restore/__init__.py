"""Restore (issue 5): catalog selection -> media plan -> LOCATE + read + verified write.

1. select.py: the file versions to restore (path, glob or directory), at the point in time
   asof.py resolves (latest, a job, a run or a date), incremental chains resolved by the
   catalog (files_store.py); asof.py also serves ``tapir ls`` and ``tapir browse``.
2. plan.py: the members grouped by volume and ordered by position, one mount per volume, and
   where each volume is now (slot, drive, I/E, outside the library, disk file).
3. extract.py + safepath.py: per volume, LOCATE to each member's record (sources.py), read it
   with the format reader, write it under the restore root through directory descriptors
   (nothing outside the root), to a temporary name then renamed, checksum verified.
4. job.py: ``run_restore`` as a job of type ``restore`` with its run and history.

Without the catalog, from_media.py rebuilds it from the volumes' own indexes
(engine/catalog/media_scan.py, rebuild.py) or restores from one session's index directly.
Verify (engine/verify) runs the same plan with a checker in place of the extractor.
"""
