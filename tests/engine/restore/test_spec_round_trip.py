"""A restore spec kept in a queued job's catalog row comes back with the exact path bytes,
whatever they are (the server runs it later, from ``RestoreSpec.from_dict``)."""

from __future__ import annotations

import json
import os

from hypothesis import given
from hypothesis import strategies as st

from engine.restore.asof import AsOf
from engine.restore.extract import Overwrite
from engine.restore.job import RestoreSpec

names = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b and b"/" not in b)


@given(st.lists(names, min_size=1, max_size=3), names, st.sampled_from(list(Overwrite)))
def test_spec_round_trips_through_json_with_any_path_bytes(
    parts: list[bytes], root: bytes, overwrite: Overwrite
) -> None:
    paths = tuple(os.fsdecode(b"/srv/" + p) for p in parts)
    spec = RestoreSpec(
        paths, root=os.fsdecode(b"/r/" + root), as_of=AsOf(job=3), overwrite=overwrite
    )
    stored = json.loads(json.dumps(spec.to_dict(), ensure_ascii=False).encode("utf-8"))
    back = RestoreSpec.from_dict(stored)
    assert [os.fsencode(p) for p in back.paths] == [os.fsencode(p) for p in paths]
    assert os.fsencode(back.root) == os.fsencode(spec.root)
    assert back.as_of == spec.as_of and back.overwrite is overwrite
    spec.job_name().encode("utf-8")  # the job's name is text a catalog column takes
