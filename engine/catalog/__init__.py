"""The catalog: what tapir knows about media, drives, mount paths (and later jobs, runs,
sessions and files), kept in a SQL database through SQLAlchemy Core.

- ``schema.py`` declares the tables as they are at the newest migration; the migrations in
  ``migrations/versions`` create them (one revision per schema change, never edited after
  release). A test compares the two so they cannot drift.
- ``db.open_catalog(url)`` opens SQLite (WAL) at ``<data dir>/catalog.sqlite`` by default or any
  SQLAlchemy URL, upgrades the schema to head, and refuses a database written by a newer tapir.
- ``sqlite_reads.sqlite_reads(url)`` reads a SQLite catalog at head through sqlite3 alone
  (``tapir ls`` and ``browse`` without SQLAlchemy); the SQL is files_read.py's, which
  ``files_store.FilesStore`` runs through SQLAlchemy.
- ``media_store.CatalogMediaStore`` implements ``devices.media.MediaStore`` (and the disk mount
  path store) on top of it.
"""
