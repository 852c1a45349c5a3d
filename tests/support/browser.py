"""Headless Chromium: open a local HTML file, with the network cut off, and screenshot it."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from tests.support.png import colours
from tests.support.tools import tool

WINDOW = (1320, 2200)


def screenshot(page: Path, png: Path, profile: Path) -> Counter[tuple[int, int, int]]:
    """Render `page` in headless Chromium into `png`; the colours of its pixels.

    The proxy points nowhere, so a page that tried to fetch anything would render without it.
    """
    subprocess.run(
        [
            tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={png}", page.as_uri(),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return colours(png)
