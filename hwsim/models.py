"""Drive models the simulator offers: identity, generation, speed, buffer and compatibility.

Figures are the published native (uncompressed) ones of full-height LTO drives; they drive
the speed model (``hwsim.speed``) and the load/compatibility rules (``hwsim.ssc``).
LTO compatibility (LTO Consortium): a drive writes its own generation and the one before,
reads two generations back up to LTO-7, and only one back from LTO-8 on; LTO-8 also writes
LTO-7 type M (``M8``) cartridges.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1_000_000
MIB = 1 << 20


@dataclass(frozen=True)
class DriveModel:
    """One drive model.

    ``writes``/``reads``: media type codes (``hwsim.cartridge.MediaType.code``) the drive can
    write / read. ``full_seek_s``: time to wind the whole tape at locate speed (rewind from
    the end); ``load_s``/``unload_s``: thread-and-load and rewind-and-unload times.
    """

    name: str
    vendor: str
    product: str
    revision: str
    generation: int
    native_rate: int
    buffer_bytes: int
    density_code: int
    writes: frozenset[str]
    reads: frozenset[str]
    max_block_length: int = 0x80_0000
    min_block_length: int = 1
    load_s: float = 15.0
    unload_s: float = 17.0
    full_seek_s: float = 90.0
    reposition_s: float = 2.5


def _model(
    gen: int, rate_mb: int, buffer_mib: int, density: int, writes: str, reads: str
) -> DriveModel:
    return DriveModel(
        name=f"LTO-{gen}",
        vendor="HWSIM",
        product=f"Ultrium {gen}-SCSI",
        revision=f"L{gen}00",
        generation=gen,
        native_rate=rate_mb * MB,
        buffer_bytes=buffer_mib * MIB,
        density_code=density,
        writes=frozenset(writes.split()),
        reads=frozenset(reads.split()),
    )


DRIVE_MODELS: dict[str, DriveModel] = {
    m.name: m
    for m in (
        _model(5, 140, 256, 0x58, "L4 L5 LV", "L3 L4 L5 LV"),
        _model(6, 160, 512, 0x5A, "L5 L6 LV LW", "L4 L5 L6 LV LW"),
        _model(7, 300, 1024, 0x5C, "L6 L7 LW LX", "L5 L6 L7 LW LX"),
        _model(8, 360, 1024, 0x5E, "L7 L8 M8 LX LY", "L7 L8 M8 LX LY"),
        _model(9, 400, 1024, 0x60, "L8 L9 LY LZ", "L8 L9 LY LZ"),
    )
}


def model_by_name(name: str) -> DriveModel:
    """The model called ``name`` ("LTO-8"); ValueError naming the known ones otherwise."""
    try:
        return DRIVE_MODELS[name]
    except KeyError:
        known = ", ".join(DRIVE_MODELS)
        raise ValueError(f"unknown drive model {name!r}; known: {known}") from None
