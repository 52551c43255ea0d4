"""Verify (issue 5 "Verify and browse"): read a backup run's sessions back from media and
compare every file's data with the checksum recorded at backup.

1. job.py: the run to verify (a job's newest successful run, or run N of it), every member it
   stored, and the media plan of restore (engine/restore/plan.py): one mount per volume, one
   LOCATE per volume part, members read on in order.
2. check.py: a ``Checker`` in the restorer's place: hashes each member's data (xxh3-128, as
   the writer did) and writes nothing. A mismatch, a member missing at its position or a
   MEDIUM ERROR is reported for that file and the rest is read on.
3. The verify job ends COMPLETED, or COMPLETED_WITH_ERRORS listing the files that differ (in
   its run's ``counters.differ`` too, so ``tapir jobs show`` can show them later).
"""
