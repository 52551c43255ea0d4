"""The device tests' hwsim library fixtures (tests/devices/conftest.py), for the tests of the
restore's tape source (test_tape_source.py), in-process and through the daemon."""

from tests.devices.conftest import (  # noqa: F401  (fixtures re-exported)
    devlib,
    events,
    library,
    sleeps,
    store,
    via,
)
