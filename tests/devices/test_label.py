"""The volume label: round trip, one fixed record, listed by GNU tar and bsdtar, newer formats
refused, blank / foreign tar / garbage told apart, and the labeling policy."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.label import (
    DEFAULT_RECORD_SIZE,
    FORMAT_VERSION,
    LABEL_MEMBER,
    MIN_RECORD_SIZE,
    TAR_BLOCK,
    Label,
    NewerLabelFormat,
    NotATapirLabel,
    OverwriteRefused,
    StartKind,
    check_may_label,
    decode_label,
    encode_label,
    inspect_volume_start,
    new_label,
)

CREATED = datetime(2025, 3, 1, 8, 0, 5, 250000, tzinfo=UTC)


def sample(**changes: object) -> Label:
    fields: dict[str, object] = {
        "volume_id": "A00001L8",
        "pool": "daily",
        "media_type": "LTO-8",
        "created": CREATED,
        "uuid": "0f9e4a52-8d8b-4c51-9a57-5d0f3f0a1d2e",
        "host": "media1",
        **changes,
    }
    return Label(**fields)  # type: ignore[arg-type]


def tar_of(member: str, body: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(member)
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def label_json(**changes: object) -> bytes:
    raw = encode_label(sample())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        f = tar.extractfile(LABEL_MEMBER)
        assert f is not None
        doc = json.loads(f.read())
    doc.update(changes)
    return json.dumps(doc).encode()


texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=64)


@settings(max_examples=60, deadline=None)
@given(
    volume_id=texts,
    pool=texts,
    media_type=texts,
    host=texts,
    created=st.datetimes(timezones=st.just(UTC)),
    uuid=st.uuids().map(str),
    blocks=st.integers(MIN_RECORD_SIZE // TAR_BLOCK, 1024),
)
def test_round_trip(
    volume_id: str,
    pool: str,
    media_type: str,
    host: str,
    created: datetime,
    uuid: str,
    blocks: int,
) -> None:
    label = Label(volume_id, pool, media_type, created, uuid, host, record_size=blocks * TAR_BLOCK)
    raw = encode_label(label)
    assert len(raw) == label.record_size
    assert decode_label(raw) == label


def test_new_label_defaults() -> None:
    label = new_label("A1", "daily", "LTO-8", host="h")
    assert label.record_size == DEFAULT_RECORD_SIZE and label.format_version == FORMAT_VERSION
    assert decode_label(encode_label(label)).uuid == label.uuid
    with pytest.raises(ValueError, match="multiple of 512"):
        new_label("A1", "daily", "LTO-8", record_size=DEFAULT_RECORD_SIZE + 1)


@pytest.mark.parametrize("tool", ["tar", "bsdtar"])
def test_tar_tools_list_the_label_record(tool: str, tmp_path: Path) -> None:
    exe = shutil.which(tool)
    assert exe is not None, f"{tool} is not installed"
    path = tmp_path / "label.rec"
    path.write_bytes(encode_label(sample()))
    listed = subprocess.run([exe, "-tvf", str(path)], capture_output=True, text=True, check=True)
    lines = listed.stdout.splitlines()
    assert len(lines) == 1 and lines[0].endswith(LABEL_MEMBER)
    assert lines[0].startswith("-r--r--r--")
    body = subprocess.run(
        [exe, "-xOf", str(path), LABEL_MEMBER], capture_output=True, check=True
    ).stdout
    assert json.loads(body)["volume_id"] == "A00001L8"


def test_gnu_tar_reads_it_as_one_256k_tape_block(tmp_path: Path) -> None:
    path = tmp_path / "label.rec"
    path.write_bytes(encode_label(sample()))
    blocking = str(DEFAULT_RECORD_SIZE // TAR_BLOCK)
    listed = subprocess.run(
        ["tar", "-t", "-b", blocking, "-f", str(path)], capture_output=True, text=True, check=True
    )
    assert listed.stdout == f"{LABEL_MEMBER}\n"


def test_newer_version_refused() -> None:
    raw = tar_of(LABEL_MEMBER, label_json(format_version=FORMAT_VERSION + 1))
    start = inspect_volume_start(raw)
    assert start.kind is StartKind.NEWER_TAPIR
    with pytest.raises(NewerLabelFormat) as info:
        decode_label(raw)
    assert str(info.value) == (
        f"Volume A00001L8 has a tapir label of format version {FORMAT_VERSION + 1}; "
        f"this tapir reads format version {FORMAT_VERSION} and older: upgrade tapir to read it."
    )


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (None, StartKind.BLANK),
        (b"", StartKind.BLANK),
        (bytes(DEFAULT_RECORD_SIZE), StartKind.BLANK),
        (tar_of("etc/passwd", b"root:x:0:0\n"), StartKind.FOREIGN_TAR),
        (b"\x7fELF" + bytes(range(256)) * 40, StartKind.UNKNOWN),
        (b"hello world\n" * 100, StartKind.UNKNOWN),
        (tar_of(LABEL_MEMBER, b"{not json"), StartKind.DAMAGED_TAPIR),
        (tar_of(LABEL_MEMBER, label_json(format="other")), StartKind.DAMAGED_TAPIR),
        (tar_of(LABEL_MEMBER, label_json(pool=None)), StartKind.DAMAGED_TAPIR),
    ],
)
def test_not_a_tapir_label_recognised(data: bytes | None, kind: StartKind) -> None:
    start = inspect_volume_start(data)
    assert start.kind is kind and start.label is None
    with pytest.raises(NotATapirLabel):
        decode_label(data)


def test_label_policy() -> None:
    check_may_label(inspect_volume_start(None), volume="A1")
    labeled = inspect_volume_start(encode_label(sample()))
    with pytest.raises(OverwriteRefused) as info:
        check_may_label(labeled, volume="A00001L8")
    assert str(info.value) == (
        "Volume A00001L8 is labeled A00001L8 (pool daily); labeling would overwrite it: "
        "use --force to relabel."
    )
    check_may_label(labeled, volume="A00001L8", force=True)
    foreign = inspect_volume_start(tar_of("x", b"y"))
    with pytest.raises(OverwriteRefused, match="holds another tar archive"):
        check_may_label(foreign, volume="B1")
    newer = inspect_volume_start(tar_of(LABEL_MEMBER, label_json(format_version=99)))
    with pytest.raises(OverwriteRefused, match="holds a tapir label of a newer format"):
        check_may_label(newer, volume="B1")
