"""File helpers shared by every writer of the package: digests, and atomic writes with a clear disk-full error.

Every file the package writes (checkpoints, exported models, recipes, metrics, plots) goes through
`atomic_output`: it is written under a temporary name in the destination folder and renamed over the final name
only once complete, so a crash or a full disk never leaves a truncated file under the final name, and the
temporaries (including the ones MindSpore derives from the name it is given) are removed on failure.
A symlink is followed (its target is replaced, the link stays); a device, FIFO or socket, and the process's own
streams (/dev/stdout, /dev/fd/N), are never renamed over: the finished file is copied into them.
"""
import contextlib
import errno
import glob
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import uuid

from ..errors import UserError

# The errors a user fixes by freeing or choosing storage, reported as one line naming the file.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})


class WriteError(OSError, UserError):
    """A file cannot be written: no storage (full disk, quota, I/O error, read-only) or the path is unusable."""

    def __str__(self):
        return self.strerror


class OutputExistsError(WriteError, FileExistsError):
    """An output would replace one of the command's inputs, or an existing file nobody asked to replace."""


def file_digest(path, algorithm="sha256"):
    """Hex digest of a file, read in 1 MiB chunks so large checkpoints and archives never sit in memory whole."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def new_file_mode():
    """The mode a new file gets under this process's umask (0644 under the usual 022), owner-writable in any case:
    every file the package writes gets it, whatever mode the library that wrote it chose."""
    mask = os.umask(0o022)  # reading the umask means setting it; it is restored at once
    os.umask(mask)
    return 0o666 & ~mask | 0o600


def _free_space(folder):
    try:
        return f"{shutil.disk_usage(folder).free / 2**20:.1f} MiB free in {folder}"
    except OSError:
        return f"free space in {folder} unknown"


def check_writable_target(path):
    """One-line errors before any work: `path` is a folder, or a part of its parent path is a file."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        raise WriteError(errno.EISDIR, f"output '{path}' is a directory; give a file name (e.g. {path}/model)")
    parent = os.path.dirname(path)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise WriteError(errno.ENOTDIR, f"output '{path}': '{parent}' is a file, not a folder; choose another path")


# A link to one of this process's open files: written through that descriptor, so it shares the stream's position.
_OWN_DESCRIPTOR = re.compile(rf"^/(?:proc/(?:self|{os.getpid()})/fd|dev/fd)/(?P<fd>\d+)$")


def _own_descriptor(path):
    """The descriptor number when `path` (or a link on the way to its target) names one of our open files."""
    for _ in range(40):  # the kernel's own limit on links followed
        match = _OWN_DESCRIPTOR.match(path)
        if match:
            return int(match.group("fd"))
        if not os.path.islink(path):
            return None
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return None


def is_stream(path):
    """True for an existing target that is not a regular file or folder: a device, FIFO, socket, or our stdout."""
    if _own_descriptor(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _copy_into_stream(source, path):
    """Write the finished file `source` into the stream `path` (through our own descriptor when it is one)."""
    fd = _own_descriptor(path)
    for stream in (sys.stdout, sys.stderr):  # what was printed before comes before the file
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    with open(source, "rb") as handle, (os.fdopen(os.dup(fd), "wb") if fd is not None else open(path, "wb")) as out:
        shutil.copyfileobj(handle, out)


def check_new_output(path, overwrite=False, inputs=()):
    """Before any work: refuse an output that is one of `inputs` (always) or an existing file (unless `overwrite`).

    A stream (device, FIFO, /dev/stdout) is written into, never replaced, so it is always accepted.
    """
    check_writable_target(path)
    if not os.path.exists(path) or is_stream(os.path.abspath(path)):
        return
    for source in inputs:
        if source and os.path.exists(source) and os.path.samefile(path, source):
            raise OutputExistsError(errno.EEXIST, f"output '{path}' is the input '{source}'; writing it would "
                                                  "replace what is being read: give another output name")
    if not overwrite:
        raise OutputExistsError(errno.EEXIST, f"output '{path}' already exists; choose another name, or pass "
                                              "--overwrite True to replace it")


def _sync(path):
    """Flush a written file (or folder entry) to disk; file systems that cannot are skipped."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path, what="file", extension=None):
    """Yield a temporary path beside `path` to write; on success it replaces `path` atomically.

    On any failure the temporary and anything a library derived from its name (MindSpore appends `.tmp` or an
    extension) are removed, `path` keeps its previous content, and storage errors become a `WriteError` naming
    `path` and the free space. The temporary keeps `path`'s extension, so libraries that append one do not.
    A symlink's target is the file replaced; a stream (device, FIFO, /dev/stdout) receives a copy of the finished
    temporary, which is written in a private temporary folder and ends with `extension` (default: `path`'s).
    """
    path = os.path.abspath(os.fspath(path))
    check_writable_target(path)
    if is_stream(path):
        with _stream_output(path, what, extension) as temporary:
            yield temporary
        return
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise _storage_error(exc, path, what) from exc
    stem, extension = os.path.splitext(os.path.basename(path))
    prefix = os.path.join(folder, f".{stem}.{uuid.uuid4().hex[:8]}.tmp")
    temporary = prefix + extension
    try:
        yield temporary
        _sync(temporary)
        os.replace(temporary, path)
    except BaseException as exc:
        for leftover in glob.glob(glob.escape(prefix) + "*"):
            with contextlib.suppress(OSError):
                os.remove(leftover)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError) and exc.errno in STORAGE_ERRNOS:
            raise _storage_error(exc, path, what) from exc
        raise
    _sync(folder)


@contextlib.contextmanager
def _stream_output(path, what, extension=None):
    """`atomic_output` for a stream: the file is made in a private folder, then copied into `path`."""
    with tempfile.TemporaryDirectory(prefix="mindcv_resnetv2.") as folder:
        stem, own_extension = os.path.splitext(os.path.basename(path))
        temporary = os.path.join(folder, stem + (own_extension if extension is None else extension))
        yield temporary
        try:
            _copy_into_stream(temporary, path)
        except OSError as exc:
            if exc.errno in STORAGE_ERRNOS:
                raise WriteError(exc.errno, f"cannot write {what} '{path}': {os.strerror(exc.errno)}") from exc
            raise


def _storage_error(exc, path, what):
    return WriteError(exc.errno, f"cannot write {what} '{path}': {os.strerror(exc.errno)} "
                                 f"({_free_space(os.path.dirname(path))}); nothing was written under that name")


def write_text_atomic(path, text, what="file"):
    """Write `text` (UTF-8) to `path` through `atomic_output`; returns the path."""
    with atomic_output(path, what) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
    return path
