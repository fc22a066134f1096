"""Debian packages as data sources: unpack a .deb (apt-get download ...) into a folder."""

from __future__ import annotations

import subprocess
from pathlib import Path


def unpack_deb(deb: str | Path, folder: str | Path) -> None:
    """``dpkg-deb -x`` the package into ``folder``. Raises FileNotFoundError naming the file and
    dpkg-deb's reason when it is missing or no readable .deb."""
    unpacked = subprocess.run(["dpkg-deb", "-x", str(deb), str(folder)], capture_output=True, text=True)
    if unpacked.returncode:
        raise FileNotFoundError(f"{deb} is not a readable .deb: {unpacked.stderr.strip()}")
