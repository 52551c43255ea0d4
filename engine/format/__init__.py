"""tapir's on-media format (docs/tapir-format.md): POSIX pax archives in fixed records.

The writer (writer.py) turns members into headers (codec.py, headers.py) and streams file data
with ``readinto`` into page-aligned record buffers (records.py), hashing it with xxh3-128 on the
way; the session ends with an index and a trailer (index.py). The reader (reader.py) walks
records back into members, from the start or from an index position, across volumes.
No device I/O happens here: records go to a sink and come from a source the caller provides.
"""
