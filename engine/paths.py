"""Where tapir keeps the user's data and finds its configuration (XDG Base Directory
Specification, "data home" and "config home").

Data: ``$TAPIR_HOME`` wins (tests, several installations side by side), then
``$XDG_DATA_HOME/tapir``, then ``~/.local/share/tapir``. Configuration: ``$XDG_CONFIG_HOME/tapir``,
then ``~/.config/tapir`` (``$TAPIR_CONFIG`` names the file itself: engine/site_config.py).
Nothing is created here: callers create what they write.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "tapir"
HWSIM_DIR = "hwsim"
DEFAULT_LIBRARY = "default"


def data_dir() -> Path:
    """The user's tapir data directory."""
    if home := os.environ.get("TAPIR_HOME"):
        return Path(home).expanduser()
    if xdg := os.environ.get("XDG_DATA_HOME"):
        return Path(xdg).expanduser() / APP_NAME
    return Path.home() / ".local" / "share" / APP_NAME


def default_sim_state_dir() -> Path:
    """The state directory of the default simulated library: ``<data>/hwsim/default``."""
    return data_dir() / HWSIM_DIR / DEFAULT_LIBRARY


def config_dir() -> Path:
    """The user's tapir configuration directory (holds ``tapir.toml``)."""
    if xdg := os.environ.get("XDG_CONFIG_HOME"):
        return Path(xdg).expanduser() / APP_NAME
    return Path.home() / ".config" / APP_NAME
