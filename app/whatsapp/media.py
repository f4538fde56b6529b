"""Files people send on WhatsApp, fetched as Meta serves them: `GET {api base}/{media-id}` (with
the access token) says where the bytes are, their MIME type, size and sha256; the URL it gives
lives minutes and the id days, so the bytes are fetched only when they are about to be written,
and fetched again on a retry.

The size is checked against MEDIA_MAX_BYTES before a byte is downloaded and again while they
come; the bytes go to a temporary file under DATA_DIR as they arrive (never the whole file in
memory), and their sha256 must be the one Meta gave."""
from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import requests

from app import httpsession

TIMEOUT = (3.05, 30)  # connect, read (seconds): a file takes longer than a message
CHUNK = 64 * 1024


class MediaError(Exception):
    """A file could not be taken from WhatsApp; `reason` is safe to log and to show an operator."""

    retryable = False

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MediaGone(MediaError):
    """Meta no longer serves this media id (it lives about 30 days), or never did."""


class MediaTooLarge(MediaError):
    """Larger than MEDIA_MAX_BYTES."""


class MediaUnavailable(MediaError):
    """Meta did not answer, answered 5xx or 429, or the bytes were not the ones it described:
    trying again later may work."""

    retryable = True


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    id: str
    url: str
    mime_type: str
    size: int | None
    sha256: str | None


@dataclasses.dataclass(frozen=True)
class Fetched:
    """A file's bytes on disk, checked, with what Meta said of them."""

    info: MediaInfo
    path: Path
    size: int
    sha256: str  # hex

    def open(self) -> IO[bytes]:
        return self.path.open("rb")


def same_digest(ours_hex: str, theirs: str | None) -> bool:
    """Meta's sha256 has come hex and base64: either matches ours."""
    if not theirs:
        return True
    theirs = theirs.strip()
    if theirs.lower() == ours_hex:
        return True
    with contextlib.suppress(binascii.Error, ValueError):
        return base64.b64decode(theirs, validate=True).hex() == ours_hex
    return False


class GraphMedia:
    """The Graph API's media endpoints (or the sandbox's, which answer the same way)."""

    def __init__(self, api_base: str, access_token: str, scratch: Path, session: requests.Session | None = None):
        self._base = api_base.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._scratch = scratch
        self._session = session or httpsession.for_host(self._base)

    def describe(self, media_id: str) -> MediaInfo:
        """What Meta says of a media id: where its bytes are, their type, size and sha256."""
        answer = self._get(f"{self._base}/{requests.utils.quote(media_id, safe='')}", what=f"media {media_id}")
        try:
            data = answer.json()
            url = str(data["url"])
        except (ValueError, KeyError, TypeError):
            raise MediaUnavailable(f"media {media_id}: Meta answered without a URL") from None
        size = data.get("file_size")
        return MediaInfo(id=media_id, url=url, mime_type=str(data.get("mime_type") or "application/octet-stream"),
                         size=int(size) if str(size or "").isdigit() else None,
                         sha256=str(data["sha256"]) if data.get("sha256") else None)

    @contextlib.contextmanager
    def fetched(self, media_id: str, max_bytes: int) -> Iterator[Fetched]:
        """The file's bytes in a temporary file, size and sha256 checked; removed afterwards."""
        info = self.describe(media_id)
        if info.size is not None and info.size > max_bytes:
            raise MediaTooLarge(f"media {media_id} is {info.size} bytes, over {max_bytes}")
        self._scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self._scratch, prefix="media-", delete=True) as out:
            digest, size = hashlib.sha256(), 0
            with self._get(info.url, what=f"media {media_id} bytes", stream=True) as answer:
                try:
                    for chunk in answer.iter_content(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise MediaTooLarge(f"media {media_id} is over {max_bytes} bytes")
                        digest.update(chunk)
                        out.write(chunk)
                except requests.RequestException as exc:
                    raise MediaUnavailable(f"media {media_id}: download broke off ({type(exc).__name__})") from None
            out.flush()
            ours = digest.hexdigest()
            if not same_digest(ours, info.sha256):
                raise MediaUnavailable(f"media {media_id}: the bytes are not the ones Meta described (sha256)")
            yield Fetched(info=info, path=Path(out.name), size=size, sha256=ours)

    def _get(self, url: str, what: str, stream: bool = False) -> requests.Response:
        try:
            answer = self._session.get(url, headers=self._headers, timeout=TIMEOUT, stream=stream)
        except requests.RequestException as exc:
            raise MediaUnavailable(f"{what}: {type(exc).__name__}") from None
        if answer.status_code == 200:
            return answer
        answer.close()
        if answer.status_code in (400, 404, 410):  # Meta: an id it does not know (or no longer keeps)
            raise MediaGone(f"{what}: Meta answered {answer.status_code}")
        raise MediaUnavailable(f"{what}: Meta answered {answer.status_code}")
