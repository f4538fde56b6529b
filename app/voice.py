"""How long a voice note lasts, read from the file itself: Meta's webhook does not say."""
from __future__ import annotations

import logging
from pathlib import Path

import mutagen

log = logging.getLogger(__name__)


def duration(path: Path) -> float | None:
    """Seconds of audio in the file (Ogg Opus, MP3, M4A, AMR...), None when it cannot be read."""
    try:
        found = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError) as exc:
        log.info("could not read the length of %s: %s", path.name, exc)
        return None
    length = getattr(getattr(found, "info", None), "length", None)
    return float(length) if length else None
