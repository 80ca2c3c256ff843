"""Verified downloads: stream a file from the first working mirror, check its size and sha256, and only
then move it into place (atomically). A file that fails its check is never left where it would be used.

The network access is one function, ``fetch(url) -> iterable of bytes``; tests pass their own.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

from companion.util import validate as check
from companion.util.storage import atomic_open

__all__ = ["ChecksumError", "DownloadError", "fetch_url", "download", "verify_file"]

Fetch = Callable[[str], Iterable[bytes]]
_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's size or sha256 differs from the expected value."""

    def __init__(self, path: str | os.PathLike, expected: str, actual: str, what: str = "sha256"):
        self.path, self.expected, self.actual, self.what = str(path), expected, actual, what
        super().__init__(f"{path}: {what} mismatch: expected {expected}, got {actual}")


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected size and sha256."""


def fetch_url(url: str, *, timeout: float = 60.0) -> Iterable[bytes]:
    """Stream ``url`` (http, https or file) in 1 MiB chunks."""
    req = urllib.request.Request(url, headers={"User-Agent": "companion-data/0.1 (+python urllib)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URLs come from datasets.json
        while True:
            block = resp.read(_CHUNK)
            if not block:
                return
            yield block


def _expected(size, sha256) -> tuple[int | None, str]:
    if size is not None:
        size = check.integer("size", size, minimum=0)
    if not (isinstance(sha256, str) and len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256)):
        raise check.fail("sha256", sha256, "64 lower-case hexadecimal digits")
    return size, sha256


def verify_file(path: str | os.PathLike, *, size: int | None, sha256: str) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has ``size`` bytes (if given) and the given sha256."""
    size, sha256 = _expected(size, sha256)
    path = Path(path)
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise ChecksumError(path, f"{size} bytes", f"{actual_size} bytes", what="size")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    if h.hexdigest() != sha256:
        raise ChecksumError(path, sha256, h.hexdigest())


def download(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    size: int | None,
    sha256: str,
    fetch: Fetch | None = None,
    progress: bool = True,
) -> Path:
    """Download the first of ``urls`` that delivers the expected bytes to ``dest``; return ``dest``.

    Each mirror is streamed into a temporary file beside ``dest`` while its sha256 is computed; the
    temporary file becomes ``dest`` only if size and sha256 match, otherwise it is deleted and the next
    mirror is tried. If all fail, :class:`DownloadError` lists every mirror's failure (for a checksum
    failure: expected and actual values).
    """
    from tqdm.auto import tqdm

    size, sha256 = _expected(size, sha256)
    if isinstance(urls, (str, bytes)) or not all(isinstance(u, str) for u in urls):
        raise check.fail("urls", urls, "a list of URL strings (mirrors, tried in order)")  # a str: one per character
    fetch = fetch or fetch_url
    dest = Path(dest)
    failures = []
    for url in urls:
        h = hashlib.sha256()
        count = 0
        try:
            with atomic_open(dest, "wb") as fh, tqdm(
                total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name, disable=not progress,
                leave=False,
            ) as bar:
                for block in fetch(url):
                    fh.write(block)
                    h.update(block)
                    count += len(block)
                    bar.update(len(block))
                    if size is not None and count > size:
                        raise ChecksumError(url, f"{size} bytes", f"more than {size} bytes", what="size")
                if size is not None and count != size:
                    raise ChecksumError(url, f"{size} bytes", f"{count} bytes (truncated)", what="size")
                if h.hexdigest() != sha256:
                    raise ChecksumError(url, sha256, h.hexdigest())
            return dest
        except ChecksumError as exc:
            failures.append(f"{url}: {exc.what} mismatch: expected {exc.expected}, got {exc.actual}")
        except Exception as exc:  # network errors, missing files, HTTP errors
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        warnings.warn(f"download of {dest.name} failed: {failures[-1]}", RuntimeWarning, stacklevel=2)
    raise DownloadError(
        f"could not download {dest.name} (expected {size} bytes, sha256 {sha256}); nothing was written to "
        f"{dest}. Tried:\n  " + "\n  ".join(failures or ["(no URLs given)"])
    )
