"""Cartridges by barcode and the medium store (index, flush, power loss, persistence)."""

from __future__ import annotations

import pytest

from hwsim.cartridge import Cartridge, media_type_for_barcode
from hwsim.media import TapeMedium


@pytest.mark.parametrize(
    ("barcode", "generation", "worm", "cleaning"),
    [
        ("000001L5", 5, False, False),
        ("ABC123L9", 9, False, False),
        ("000001LV", 5, True, False),
        ("000001LZ", 9, True, False),
        ("CLN001L1", 0, False, True),
        ("CLN123CU", 0, False, True),
    ],
)
def test_media_type_for_barcode(barcode, generation, worm, cleaning):
    media = media_type_for_barcode(barcode)
    assert (media.generation, media.worm, media.cleaning) == (generation, worm, cleaning)


@pytest.mark.parametrize("barcode", ["000001X9", "", "AB", "has space L8"])
def test_bad_barcodes_are_explained(barcode):
    with pytest.raises(ValueError, match="barcode"):
        media_type_for_barcode(barcode)


def test_cartridge_defaults_and_state_round_trip(tmp_path):
    cart = Cartridge.create("000001L8", tmp_path)
    assert cart.capacity == 12 * 10**12 and cart.early_warning_bytes > 0
    assert cart.medium is not None and not cart.worm
    cleaner = Cartridge.create("CLN001L1", tmp_path)
    assert cleaner.medium is None and cleaner.cleaning_uses_left == 50
    cart.mam.load_count = 3
    cart.mam.host_attributes[0x0803] = "label"
    cart.save_mam()
    again = Cartridge.from_state(cart.to_state(), tmp_path)
    assert (again.mam.load_count, again.user_label, again.capacity) == (3, "label", cart.capacity)
    with pytest.raises(ValueError, match="lacks field 'barcode'"):
        Cartridge.from_state({}, tmp_path)
    with pytest.raises(ValueError, match="capacity"):
        Cartridge.create("000002L8", tmp_path, capacity=0)


def test_medium_index_and_filemarks(tmp_path):
    medium = TapeMedium(tmp_path / "t")
    medium.append_record(0, b"abc")
    medium.append_filemarks(1, 2)
    medium.append_record(3, b"defg")
    assert (medium.count, medium.data_end) == (4, 7)
    assert [medium.is_filemark(i) for i in range(4)] == [False, True, True, False]
    assert medium.read(3, 100) == b"defg" and medium.read(0, 2) == b"ab"
    assert medium.filemarks_before(3) == 2 and medium.next_filemark(2) == 2
    assert medium.previous_filemark(2) == 1


def test_medium_flush_persists_and_power_loss_truncates(tmp_path):
    medium = TapeMedium(tmp_path / "t")
    medium.append_record(0, b"one")
    medium.flush()
    medium.append_record(1, b"two")
    assert medium.buffered_objects == 1 and medium.buffered_bytes == 3
    reopened = TapeMedium(tmp_path / "t")
    assert reopened.count == 1
    assert medium.power_loss() and medium.eod_invalid and medium.count == 1
    assert TapeMedium(tmp_path / "t").eod_invalid
    medium.truncate(0)
    assert not medium.eod_invalid and not TapeMedium(tmp_path / "t").eod_invalid


def test_medium_overwrite_truncates_persisted_index(tmp_path):
    medium = TapeMedium(tmp_path / "t")
    for i in range(5):
        medium.append_record(i, bytes([i]) * 4)
    medium.flush()
    medium.append_record(2, b"new!")
    medium.flush()
    reopened = TapeMedium(tmp_path / "t")
    assert reopened.count == 3 and reopened.read(2, 10) == b"new!"
