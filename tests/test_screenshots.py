"""The README's pictures come from what `make demo` shows: the tour that `make screenshots` takes
through a real `tgwa demo` runs here too, into a temporary folder, and must see every step."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
from tests import screenshots

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("chromium-browser") is None,
                                reason="no Chromium here (.ci/run installs Debian's chromium)")


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (its IHDR chunk comes first)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_readme_pictures_are_taken_from_a_running_demo(tmp_path: Path) -> None:
    pictures = screenshots.take(tmp_path)
    sizes = {p.name: png_size(p) for p in pictures}
    assert sizes == {"sandbox-chat.png": (1400, 820), "ops.png": (1400, 820), "case-page.png": (1400, 820),
                     "sandbox-phone.png": (390, 844)}
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert all(f"docs/screenshots/{name}" in readme for name in sizes), "the README shows every picture taken"
