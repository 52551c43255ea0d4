"""Backup data path, front half: scan the source, read and checksum files, report per-file
problems.

Stages (STYLE.md, "a bounded pipeline"): scan.py walks the tree and yields ``FileEntry`` items
(patterns.py decides includes/excludes); levels.py decides which entries an incremental or
differential run stores; reader.py streams each regular file into the writer's page-aligned
buffers with an xxh3-128 checksum, consulting inuse.py's ``/proc`` snapshot for files other
processes are writing. Every per-file problem is an ``ItemException`` (exceptions.py) sent
through one ``on_item_error(path, exc)`` callback; the job goes on.

The back half: pipeline.py wires the threads and bounded queues (scan_stage.py, stages.py
readers, format_stage.py, write_stage.py, checkpoint.py catalog commits at flush points);
targets.py (target_tape.py, target_disk.py) gives the session's volumes; job.py
``run_backup`` runs it as a job in the catalog. Past 2,000 small files the readers hand plain
ones to worker processes (read_worker.py, filling buffers.py's shared batch buffers; in a full
backup a directory's regular files go as one run of names, plain_runs.py), and the catalog
rows are staged by engine/catalog/files_staging.py (row_staging.py) while the run goes on.
"""
