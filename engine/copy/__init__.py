"""Copies of backup runs ("copy 2", NetBackup/Backup Exec duplication): ``tapir copy JOB``.

A copy reads each session of a run part by part (copy 1's tape files) and writes the same
records, one for one, to another target's volumes (stream.py), checking every member's checksum
on the way (the records pass through the archive reader). The catalog records where each part
of the copy is (engine/catalog/copies_store.py); restore and verify read copy 2 when copy 1
cannot be read (engine/restore/copies.py).
"""
