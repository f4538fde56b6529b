"""Which files a partner may put on a case, what they are called, and how big they are said to be.

Trading Grid holds business documents: photos of papers and goods, PDFs, office documents, EDI
and text files, voice notes and videos. Anything a person could run (a program, a script, an
installer) or that hides other files (an archive) is refused: one clear line, nothing written."""
from __future__ import annotations

import datetime as dt
import mimetypes
import re

ACCEPTED_TYPES = frozenset({
    "image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/gif", "image/tiff",
    "application/pdf",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "text/plain", "text/csv", "application/xml", "text/xml", "application/edi-x12", "application/edifact",
    "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr", "audio/opus",
    "video/mp4", "video/3gpp", "video/quicktime",
})
# A document Meta calls application/octet-stream is judged by its name.
ACCEPTED_EXTENSIONS = frozenset({
    "jpg", "jpeg", "png", "webp", "heic", "gif", "tif", "tiff", "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
    "odt", "ods", "txt", "csv", "xml", "edi", "x12", "edifact", "ogg", "opus", "mp3", "m4a", "aac", "amr", "mp4",
    "3gp", "mov",
})
KIND_NAMES = {"image": "photo", "audio": "voice", "video": "video", "document": "document"}
_UNSAFE = re.compile(r"[^\w.\- ]+")


def extension(filename: str | None) -> str:
    name = (filename or "").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def acceptable(mime_type: str, filename: str | None) -> bool:
    base = mime_type.split(";", 1)[0].strip().lower()
    ext = extension(filename)
    if ext and ext not in ACCEPTED_EXTENSIONS:
        return False  # a name that says "program" is refused whatever type it claims
    return base in ACCEPTED_TYPES or (base == "application/octet-stream" and ext in ACCEPTED_EXTENSIONS)


def filename_for(kind: str, mime_type: str, given: str | None, at: int) -> str:
    """The name the file is kept under: the one it was sent with, made safe, else one made from
    what it is and when it came ("photo-20261203-101500.jpg")."""
    if given:
        cleaned = _UNSAFE.sub("_", given.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" .")
        if cleaned:
            return cleaned[:120]
    base = mime_type.split(";", 1)[0].strip().lower()
    ext = {"image/jpeg": ".jpg", "audio/ogg": ".ogg", "audio/mpeg": ".mp3"}.get(base) \
        or mimetypes.guess_extension(base) or ""
    stamp = dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{KIND_NAMES.get(kind, 'file')}-{stamp}{ext}"


def size_in_words(size: int) -> str:
    """240 KB, 1.2 MB: as a phone shows a file's size."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    megabytes = size / (1024 * 1024)
    return f"{megabytes:.1f} MB" if megabytes < 10 else f"{round(megabytes)} MB"


def duration_in_words(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"
