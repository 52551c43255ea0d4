"""Shared helpers of the changer and library tests: raw CDBs, sense and element parsing.

Everything goes through ``HwsimLocalTransport`` with raw CDB bytes; these helpers only
build CDBs and decode answers by the byte layouts of SPC-4 / SMC-3, independently of
hwsim's own encoders.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from drivers.transport.contract import ScsiResult
from drivers.transport.hwsim_local import HwsimLocalTransport
from hwsim.config import parse_config
from hwsim.library import SimLibrary

TIMEOUT = 5.0
GOOD = 0
CHECK = 2
UNIT_ATTENTION = 6

SMALL_LIBRARY = """
[library]
name = "small"
serial = "SMALL00001"
slots = 6
ie_slots = 2

[[drives]]
name = "drive0"
model = "LTO-8"
serial = "DRV0000001"

[[drives]]
name = "drive1"
model = "LTO-8"
serial = "DRV0000002"

[[cartridge_range]]
prefix = "TST"
first = 1
count = 4
suffix = "L8"
slot = 1
capacity = "64MiB"

[[cartridges]]
barcode = "CLN001CU"
slot = 6
cleaning_uses = 3
"""

# element addresses of the default addressing (hwsim.elements.ElementAddressing)
ROBOT = 0x0001
IE = 0x0010
DRIVE = 0x0100
SLOT = 0x1000


def slot(n: int) -> int:
    return SLOT + n - 1


def ie(n: int) -> int:
    return IE + n - 1


def drive(n: int) -> int:
    return DRIVE + n


def make_library(state_dir: Path, text: str = SMALL_LIBRARY) -> SimLibrary:
    return SimLibrary.create(parse_config(text, "test.toml"), state_dir)


def run(
    target: HwsimLocalTransport, cdb: bytes, data_in_len: int = 0, data_out: bytes | None = None
) -> ScsiResult:
    return target.execute(cdb, data_out=data_out, data_in_len=data_in_len, timeout_s=TIMEOUT)


def sense_of(result: ScsiResult) -> tuple[int, int, int]:
    """(key, ASC, ASCQ) of fixed-format sense."""
    s = bytes(result.sense)
    assert s[0] & 0x7F in (0x70, 0x71), s.hex()
    return s[2] & 0x0F, s[12], s[13]


def field_pointer(result: ScsiResult) -> tuple[bool, int, int | None]:
    """SPC-4 sense-key specific field pointer: (C/D, byte, bit or None)."""
    s = bytes(result.sense)
    assert s[15] & 0x80, "SKSV not set"
    bit = s[15] & 0x07 if s[15] & 0x08 else None
    return bool(s[15] & 0x40), int.from_bytes(s[16:18], "big"), bit


def expect_check(result: ScsiResult, key: int, asc: int, ascq: int) -> None:
    assert result.status == CHECK, f"expected CHECK CONDITION, got status {result.status}"
    assert sense_of(result) == (key, asc, ascq), bytes(result.sense).hex()


def expect_good(result: ScsiResult) -> None:
    assert result.status == GOOD, f"sense {bytes(result.sense).hex()}"


def tur() -> bytes:
    return bytes(6)


def move_cdb(source: int, dest: int, transport: int = 0, invert: bool = False) -> bytes:
    return struct.pack(">BBHHHHBB", 0xA5, 0, transport, source, dest, 0, int(invert), 0)


def exchange_cdb(source: int, first: int, second: int, transport: int = 0) -> bytes:
    return struct.pack(">BBHHHHBB", 0xA6, 0, transport, source, first, second, 0, 0)


def res_cdb(
    element_type: int = 0,
    start: int = 0,
    count: int = 0xFFFF,
    *,
    voltag: bool = True,
    dvcid: bool = False,
    alloc: int = 0xFFFF,
) -> bytes:
    byte1 = (0x10 if voltag else 0) | element_type
    return (
        bytes([0xB8, byte1])
        + struct.pack(">HH", start, count)
        + bytes([int(dvcid)])
        + alloc.to_bytes(3, "big")
        + bytes(2)
    )


@dataclass
class Descriptor:
    type: int
    address: int
    flags: int
    asc: int
    ascq: int
    svalid: bool
    medium_type: int
    source: int
    volume_tag: bytes | None
    identifier: bytes | None
    code_set: int | None = None
    id_type: int | None = None

    @property
    def full(self) -> bool:
        return bool(self.flags & 0x01)

    @property
    def barcode(self) -> str | None:
        if self.volume_tag is None or not self.full:
            return None
        return self.volume_tag[:32].decode("ascii").rstrip()


@dataclass
class ElementReport:
    first: int
    count: int
    byte_count: int
    pages: list[tuple[int, int, int]]  # (type, flags, descriptor length)
    descriptors: list[Descriptor]

    def at(self, address: int) -> Descriptor:
        return next(d for d in self.descriptors if d.address == address)


def parse_element_status(data: bytes, dvcid: bool = False) -> ElementReport:
    """Decode READ ELEMENT STATUS data by SMC-3 6.11 (header, pages, descriptors)."""
    first, count = struct.unpack(">HH", data[:4])
    byte_count = int.from_bytes(data[5:8], "big")
    pos, end = 8, 8 + byte_count
    pages: list[tuple[int, int, int]] = []
    descriptors: list[Descriptor] = []
    while pos < min(end, len(data)):
        etype, pflags = data[pos], data[pos + 1]
        dlen = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        pbytes = int.from_bytes(data[pos + 5 : pos + 8], "big")
        pages.append((etype, pflags, dlen))
        pos += 8
        for off in range(pos, pos + pbytes, dlen):
            d = data[off : off + dlen]
            vt = d[12:48] if pflags & 0x80 else None
            ident = code_set = id_type = None
            if dvcid and etype == 4:
                at = 12 + (36 if vt is not None else 0)
                code_set, id_type, ilen = d[at] & 0x0F, d[at + 1] & 0x0F, d[at + 3]
                ident = d[at + 4 : at + 4 + ilen]
            descriptors.append(
                Descriptor(
                    type=etype,
                    address=struct.unpack(">H", d[0:2])[0],
                    flags=d[2],
                    asc=d[4],
                    ascq=d[5],
                    svalid=bool(d[9] & 0x80),
                    medium_type=d[9] & 0x07,
                    source=struct.unpack(">H", d[10:12])[0],
                    volume_tag=vt,
                    identifier=ident,
                    code_set=code_set,
                    id_type=id_type,
                )
            )
        pos += pbytes
    return ElementReport(first, count, byte_count, pages, descriptors)


def read_elements(changer: HwsimLocalTransport, **kwargs: object) -> ElementReport:
    result = run(changer, res_cdb(**kwargs), 0xFFFF)  # type: ignore[arg-type]
    expect_good(result)
    return parse_element_status(bytes(result.data), dvcid=bool(kwargs.get("dvcid")))


def unload_cdb() -> bytes:
    """SSC-4 LOAD UNLOAD with LOAD=0: rewind and present the cartridge for removal."""
    return bytes([0x1B, 0, 0, 0, 0, 0])


def clear_unit_attentions(target: HwsimLocalTransport) -> None:
    """Consume pending unit attentions with TEST UNIT READY."""
    for _ in range(8):
        result = run(target, tur())
        if result.status == GOOD or sense_of(result)[0] != UNIT_ATTENTION:
            return
