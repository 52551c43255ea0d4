"""Endpoint strings -> transports: /dev/sgN, hwsim:STATE#DEVICE, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.smc import SmcDriver
from drivers.ssc import SscDriver
from drivers.transport.contract import DeviceNotFound
from drivers.transport.endpoints import open_endpoint, parse_hwsim
from drivers.transport.hwsim_socket import HwsimSocketTransport
from tests.hwsim.conftest import DaemonLink


def test_hwsim_endpoint_reaches_the_daemon(lib) -> None:
    link = DaemonLink(lib, "changer")
    try:
        for path in (link.folder, link.folder / "hwsim.sock"):
            transport = open_endpoint(f"hwsim:{path}#drive1")
            assert isinstance(transport, HwsimSocketTransport)
            assert transport.name == f"hwsim:{path}#drive1"
            assert SscDriver(transport).serial_number() == "DRV0000002"
            transport.close()
        changer = SmcDriver(open_endpoint(f"hwsim:{link.folder}#changer"))
        assert changer.inquiry().peripheral_type == 8
        changer.close()
    finally:
        link.close()


def test_parse_hwsim(tmp_path: Path) -> None:
    assert parse_hwsim(f"hwsim:{tmp_path}#drive0") == (tmp_path / "hwsim.sock", "drive0")
    assert parse_hwsim("hwsim:/x/y.sock#changer") == (Path("/x/y.sock"), "changer")
    with pytest.raises(ValueError, match="must look like hwsim:"):
        parse_hwsim("hwsim:/x/y.sock")


def test_missing_sg_node_is_device_not_found() -> None:
    assert not Path("/dev/sg987").exists()
    with pytest.raises(DeviceNotFound, match="/dev/sg987"):
        open_endpoint("/dev/sg987")


@pytest.mark.parametrize(
    "endpoint", ["iscsi://host/iqn.2024-01.x:t/0", "/dev/nst0", "drive0", "", "/dev/sgX"]
)
def test_unknown_forms_are_refused_with_the_list(endpoint: str) -> None:
    with pytest.raises(ValueError) as err:
        open_endpoint(endpoint)
    message = str(err.value)
    assert "/dev/sgN" in message and "hwsim:/path/to/state#DEVICE" in message
