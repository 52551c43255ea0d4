"""What the engine writes to (shared/DESIGN.md "Devices"): tape drives and libraries (built on
drivers/), disk mount paths, and the media/volume model.

- ``media``: media states, the one ``ALLOWED`` transition map and ``transition()``, error and
  drive records, selection of a medium for writing, and the ``MediaStore`` Protocol the catalog
  implements (devices never import engine/). ``media_rules``: freeze a medium after repeated
  errors, mark a drive down when several media fail in it, suspect after power loss.
  ``media_memory``: the store in memory, for use without a catalog.
- ``label``: the volume label record (a one-member pax archive padded to one tape block) and the
  labeling policy; bytes only, the caller does the I/O at BOT.
- ``tape_drive``: ``TapeDrive`` — records, filemarks, positions and labels on one drive, sense
  turned into events (``events``) and TapeAlert flags into actions (``tapealert_actions``).
- ``tape_library``: ``TapeLibrary`` — inventory (``library_inventory``), mount by barcode,
  cleaning, import/export; the changer command path with robot retries is ``robot``.
- ``errors``: device errors as one sentence naming the device and what to do.
- ``disk``: ``DiskMountPath``, a directory holding volumes as files, with enabled state, free
  space reserve and fsync at flush points.
"""
