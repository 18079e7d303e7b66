"""Every download, datasets and pretrained weights: one function with progress bar, timeout, digest check and atomic
rename, and the URL rewrite that serves a file from a mirror instead of its upstream address."""
import os
import socket
import urllib.error
import urllib.request

from tqdm import tqdm

from ..errors import UserError
from .files import atomic_output, file_digest

TIMEOUT_SECONDS = 20
# MindCV's checkpoint names carry the first 8 hex digits of the sha256: the shortest digest prefix accepted.
MIN_DIGEST_PREFIX = 8


class DownloadError(RuntimeError, UserError):
    """A file could not be fetched or failed its digest check; the message names the URL and the remedy."""


def digest_matches(path, expected, algorithm):
    """True when the file's hex digest equals `expected` or starts with it (a prefix of at least 8 hex digits)."""
    if len(expected) < MIN_DIGEST_PREFIX:
        raise ValueError(f"expected {algorithm} '{expected}' is too short: give {MIN_DIGEST_PREFIX} hex digits or more")
    return file_digest(path, algorithm).startswith(expected.lower())


def mirrored_url(url, mirror=None):
    """`url`, or with a `mirror` base URL `<mirror>/<file name>` (a local ``file://`` folder or an internal HTTP
    mirror), so a closed network can serve the same files without code changes."""
    return f"{mirror.rstrip('/')}/{url.rsplit('/', 1)[-1]}" if mirror else url


def download_file(url, destination, digest, algorithm="sha256", timeout=TIMEOUT_SECONDS, offline_hint=""):
    """Fetch `url` to `destination` and return it; the file appears there only once its digest is verified.

    A file already at `destination` with the right digest is kept without touching the network. The bytes go to a
    uniquely named temporary file beside `destination` (`files.atomic_output`), renamed into place after the
    check, so an interrupted or damaged download never leaves a complete-looking file, two ranks downloading at
    once do not collide, and a full disk is a `WriteError` naming the file.
    `offline_hint` is appended to the error raised when the URL cannot be reached.
    """
    if os.path.isfile(destination) and digest_matches(destination, digest, algorithm):
        return destination
    try:
        with atomic_output(destination, what="download") as partial:
            with open(partial, "wb") as out:
                _stream(url, out, timeout, os.path.basename(destination))
            if not digest_matches(partial, digest, algorithm):
                raise DownloadError(
                    f"{url} downloaded with {algorithm} {file_digest(partial, algorithm)}, expected {digest}: the "
                    "file is damaged or not the published one; nothing was kept"
                )
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
        raise DownloadError(f"could not download {url} ({exc}). {offline_hint}".rstrip()) from exc
    return destination


def _stream(url, out, timeout, label):
    """Copy the response body of `url` into the open file `out`, with a tqdm progress bar; a body shorter than the
    announced Content-Length (the connection dropped) is an error saying so, not a checksum mismatch."""
    received = 0
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=label) as bar:
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if total and received < total:
        raise DownloadError(f"the connection to {url} closed after {received} of {total} bytes; nothing was kept. "
                            "Try again.")
