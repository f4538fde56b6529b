"""The README's pictures, taken from what `make demo` shows: `tgwa demo` started as the Makefile
starts it (its own seeded cases, a fresh data folder), then a short tour in Chromium: a partner
answers a delay, the operator looks at /ops, the case page behind the link, the chat at phone
width. `make screenshots` writes them to docs/screenshots; tests/test_screenshots.py takes the
same tour into a temporary folder.

    python -m tests.screenshots FOLDER
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import Page, sync_playwright

from bench.stack import BIN, ROOT, free_port, stop

PICTURES = ("sandbox-chat.png", "ops.png", "case-page.png", "sandbox-phone.png")


def take(folder: Path) -> list[Path]:
    """Starts the demo, takes the tour, stops the demo; returns the pictures written."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TRADING_GRID_URL", "PUBLIC_URL")}
    with tempfile.TemporaryDirectory() as data:
        demo = subprocess.Popen([str(BIN / "tgwa"), "demo", "--port", str(port)], cwd=ROOT,
                                env={**environ, "DATA_DIR": data}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/healthz")
            tour(base, folder)
        finally:
            stop([demo])
    return [folder / name for name in PICTURES]


def _wait(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo did not answer at {url} within {seconds:.0f} s")
        time.sleep(0.2)


def tour(base: str, folder: Path) -> None:
    """Maria (Globex, US) is told her order is late, answers with a date and confirms; the
    pictures are taken on the way. Each step waits for what a person would see."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("screenshots need Chromium (Debian: apt-get install chromium)")
    new_date = dt.date.today() + dt.timedelta(days=12)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 820})
        page.goto(f"{base}/sandbox")
        page.select_option("#event-type", "exception.logged")
        page.select_option("#event-partner", "GLOBEX")
        page.click("#fire")
        page.wait_for_selector("#event-result >> text=sent exception.logged")
        page.click("text=Maria Lopez")
        page.wait_for_selector(".bubble.bot >> text=PO-4410093")
        _says(page, f"truck broke down, can deliver {new_date.month}/{new_date.day}")
        page.wait_for_selector(".bubble.bot >> text=Is that right?")
        page.click(".bubble.bot .choices button:has-text('Confirm')")
        page.wait_for_selector(f"#cases >> text={new_date.isoformat()}")
        page.wait_for_selector("#audit >> text=Maria Lopez")
        page.wait_for_selector(".bubble.bot .meta >> text=read")
        page.screenshot(path=str(folder / "sandbox-chat.png"))

        link = page.locator(".bubble.bot >> text=/tradinggrid/cases/").first.inner_text()
        case_url = link[link.index("http"):].split()[0]
        page.goto(f"{base}/ops")
        page.wait_for_selector("#notifications >> text=read 1")
        page.screenshot(path=str(folder / "ops.png"))
        page.goto(case_url)
        page.wait_for_selector(f"#expected >> text={new_date.isoformat()}")
        page.screenshot(path=str(folder / "case-page.png"))

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(f"{base}/sandbox")
        phone.click("text=Maria Lopez")
        phone.wait_for_selector(".bubble.bot >> text=now shows")
        phone.screenshot(path=str(folder / "sandbox-phone.png"))
        browser.close()


def _says(page: Page, words: str) -> None:
    page.fill("#text", words)
    page.click("#send")


if __name__ == "__main__":
    for picture in take(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")):
        print(picture)
