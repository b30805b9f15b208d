"""Debian's chromium, headless, driven by Selenium through chromium-driver: one start-up for every browser test.

``.ci/run`` installs ``chromium`` and ``chromium-driver``; without them (or without selenium, a dev extra) the
browser tests are skipped with that reason, never failed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)
DRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and Path(p).exists()), None)

needs_browser = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                   reason="Debian's chromium / chromium-driver are not installed "
                                          "(apt-get install chromium chromium-driver; .ci/run does)")


@contextmanager
def headless_chromium(*extra_args: str, page_load_timeout: float = 30) -> Iterator[Any]:
    """A headless chromium that keeps the page's console log (``goog:loggingPrefs``); quit on exit."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *extra_args):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.set_page_load_timeout(page_load_timeout)
    try:
        yield driver
    finally:
        driver.quit()
