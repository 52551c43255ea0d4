"""Header encoding: byte-for-byte against the standard library's tarfile (PAX_FORMAT), and
Member -> header -> Member round trips for every field (Hypothesis)."""

from __future__ import annotations

import io
import tarfile

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.format import codec
from engine.format import headers as h
from engine.format.members import TYPEFLAGS, Member, MemberKind
from engine.format.reader import ArchiveReader
from engine.format.writer import ArchiveWriter

KINDS = list(MemberKind)
ascii_names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="/"),
    min_size=1,
    max_size=120,
)
any_names = st.binary(min_size=1, max_size=300).filter(
    lambda b: b"\0" not in b and not b.endswith(b"/") and b.strip(b"/") == b
)
ids = st.integers(min_value=0, max_value=2**32 - 1)
seconds = st.integers(min_value=-(2**33), max_value=2**36)
nanos = st.integers(min_value=-(2**62), max_value=2**62)
owners = st.binary(min_size=0, max_size=40).filter(lambda b: b"\0" not in b)


@given(st.binary(min_size=512, max_size=512))
def test_block_sum_equals_the_byte_sum(block: bytes) -> None:
    assert h.block_sum(block) == sum(block)


@given(
    name=st.one_of(ascii_names, st.text(min_size=1, max_size=120).filter(lambda s: "\0" not in s)),
    kind=st.sampled_from(KINDS),
    mode=st.integers(min_value=0, max_value=0o7777),
    uid=ids,
    gid=ids,
    size=st.integers(min_value=0, max_value=2**40),
    mtime=seconds,
    link=st.text(max_size=120).filter(lambda s: "\0" not in s),
    uname=st.text(max_size=40).filter(lambda s: "\0" not in s),
    dev=st.tuples(st.integers(0, 4095), st.integers(0, 2**20 - 1)),
)
@settings(max_examples=300)
def test_headers_match_tarfile_byte_for_byte(
    name: str,
    kind: MemberKind,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    link: str,
    uname: str,
    dev: tuple[int, int],
) -> None:
    info = tarfile.TarInfo(name)
    info.type = TYPEFLAGS[kind]
    info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, mtime
    info.size = size if kind is MemberKind.FILE else 0
    info.uname, info.gname = uname, "staff"
    if kind in (MemberKind.SYMLINK, MemberKind.HARDLINK):
        info.linkname = link
    info.devmajor, info.devminor = dev
    expected = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    member = Member(
        name=name.encode("utf-8", "surrogateescape"),
        kind=kind,
        size=info.size,
        mode=mode,
        uid=uid,
        gid=gid,
        uname=uname.encode(),
        gname=b"staff",
        mtime_ns=mtime * h.NS,
        linkname=info.linkname.encode(),
        devmajor=dev[0],
        devminor=dev[1],
    )
    assert codec.encode_member(member) == expected


@given(name=ascii_names.filter(lambda s: len(s) <= 100), size=st.integers(0, 2**33 - 1))
def test_the_fast_path_is_one_block(name: str, size: int) -> None:
    member = Member(
        name=name.encode(), kind=MemberKind.FILE, size=size, mtime_ns=1_700_000_000 * h.NS
    )
    assert len(codec.encode_member(member)) == h.BLOCK


@given(nanos)
def test_pax_times_round_trip(ns: int) -> None:
    assert h.parse_time(h.format_time(ns)) == ns


members = st.builds(
    Member,
    name=any_names,
    kind=st.sampled_from(
        [
            MemberKind.FILE,
            MemberKind.DIRECTORY,
            MemberKind.SYMLINK,
            MemberKind.CHARDEV,
            MemberKind.FIFO,
        ]
    ),
    mode=st.integers(0, 0o7777),
    uid=ids,
    gid=ids,
    uname=owners,
    gname=owners,
    mtime_ns=nanos,
    atime_ns=st.none() | nanos,
    ctime_ns=st.none() | nanos,
    linkname=st.binary(max_size=300).filter(lambda b: b"\0" not in b),
    devmajor=st.integers(0, 4095),
    devminor=st.integers(0, 2**20 - 1),
    xattrs=st.dictionaries(
        st.binary(min_size=1, max_size=30)
        .filter(lambda b: b"\0" not in b and b"=" not in b)
        .map(lambda b: b"user." + b),
        st.binary(max_size=200),
        max_size=3,
    ),
    acl_access=st.none() | st.just("user::rw-\ngroup::r--\nother::---\n"),
)


@given(st.lists(st.tuples(members, st.binary(max_size=3000)), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_writer_to_reader_round_trip(items: list[tuple[Member, bytes]]) -> None:
    out = io.BytesIO()
    writer = ArchiveWriter(out.write, record_size=20 * 512)
    expected = []
    for member, data in items:
        if member.kind is MemberKind.FILE:
            member.size = len(data)
        else:
            data = b""
        if member.kind is not MemberKind.SYMLINK:
            member.linkname = b""
        if member.kind is not MemberKind.CHARDEV:
            member.devmajor = member.devminor = 0
        writer.add_member(member, data)
        expected.append((member, data))
    writer.close()
    raw = out.getvalue()
    records = iter(raw[i : i + 20 * 512] for i in range(0, len(raw), 20 * 512))
    source = type(
        "S",
        (),
        {"read_record": lambda self: next(records, None), "next_volume": lambda self, seq: False},
    )()
    reader = ArchiveReader(source)
    for member, data in expected:
        entry = reader.next()
        assert entry is not None
        assert entry.member == member
        assert reader.read_data() == data


@given(
    name=ascii_names.filter(lambda s: len(s) <= 100),
    mode=st.integers(min_value=0, max_value=0o177777),
    uid=st.integers(0, h.MAX_ID - 1),
    gid=st.integers(0, h.MAX_ID - 1),
    size=st.integers(0, h.MAX_SIZE - 1),
    times=st.tuples(*[st.integers(10**18, 10**19 - 1)] * 3),
    owners=st.tuples(owners, owners),
)
@settings(max_examples=300)
def test_the_plain_file_template_matches_the_general_encoder(
    name: str,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    times: tuple[int, int, int],
    owners: tuple[bytes, bytes],
) -> None:
    """codec._plain_file (cached ustar template, checksum patched) is byte for byte what
    the general path (checked against tarfile above) writes; ``extra=[]`` forces that path."""
    member = Member(
        name=name.encode(),
        kind=MemberKind.FILE,
        size=size,
        mode=mode,
        uid=uid,
        gid=gid,
        uname=owners[0],
        gname=owners[1],
        mtime_ns=times[0],
        atime_ns=times[1],
        ctime_ns=times[2],
    )
    fast = codec.encode_member(member)
    assert fast == codec.encode_member(member, extra=[])
    assert h.decode_ustar(fast[-h.BLOCK :])["size"] == size
