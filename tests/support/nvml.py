"""Whether NVML answers on this machine, for the tests that need a real NVIDIA GPU."""

from __future__ import annotations

import pytest


def skip_without_nvml() -> None:
    """Skip the calling test or fixture unless pynvml is installed and NVML initialises (a driver is present)."""
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        pytest.skip(f"no NVIDIA driver here: {error}")
    pynvml.nvmlShutdown()
