"""Check every image file of an ImageFolder split once, when its dataset is built, instead of once per sample read.

MindSpore 2.8's decoders kill the process on some damaged JPEGs (``image_bytes``), so no such file may reach them.
Checking in the pipeline costs a Python op per image, which holds the GIL and slows every map worker; checking the
split's files here costs two small reads and a few microseconds of parsing per file, in threads, and the run then
stops before any pipeline starts (no MindSpore start-up race, see docs/data.md). Files found good are remembered in a
cache keyed by path, size and modification time (``$MINDCV_RESNETV2_CACHE``, default
``~/.cache/mindcv_resnetv2``), so the next run, the other ranks of a node and the validation of a finished run
check only files that changed. The cache is an optimisation: when it cannot be written, every build checks again.
"""
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from .image_bytes import UnreadableImageError, file_problem
from .sources import IMAGE_EXTENSIONS

CACHE_VARIABLE = "MINDCV_RESNETV2_CACHE"
# Bump when image_bytes' checks change: files passed by an older check are checked again.
CHECK_VERSION = 2


def split_files(split_dir, class_names):
    """The image files ImageFolderDataset reads in ``split_dir``: those with an image extension in each class folder."""
    files = []
    for name in class_names:
        with os.scandir(os.path.join(split_dir, name)) as entries:
            files += [e.path for e in entries if e.name.endswith(IMAGE_EXTENSIONS) and e.is_file()]
    return sorted(files)


def _cache_path(split_dir):
    root = os.environ.get(CACHE_VARIABLE) or os.path.join(os.path.expanduser("~"), ".cache", "mindcv_resnetv2")
    digest = hashlib.sha1(os.path.realpath(split_dir).encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return os.path.join(root, "checked_images", f"v{CHECK_VERSION}-{digest}.tsv")


def _read_cache(path):
    """{file path under the split: 'size mtime_ns'} of the files a previous check passed (empty without a cache)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return dict(line.rstrip("\n").split("\t", 1) for line in handle if "\t" in line)
    except OSError:
        return {}


def _write_cache(path, stamps):
    """Replace the cache atomically (ranks of a node may write it at once; each writes a complete file)."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.writelines(f"{name}\t{stamp}\n" for name, stamp in sorted(stamps.items()))
        os.replace(temporary, path)
    except OSError:
        pass  # read-only home or full disk: the next build checks again


def _stamp(path):
    """'size mtime_ns': a file that changed no longer matches its cache line."""
    info = os.stat(path)
    return f"{info.st_size} {info.st_mtime_ns}"


def refuse_damaged_files(split_dir, class_names, workers=None):
    """Raise UnreadableImageError naming the first file of the split MindSpore must not decode (and how many more)."""
    files = split_files(split_dir, class_names)
    prefix = len(os.path.join(split_dir, ""))  # split_files' paths all start with split_dir
    names = [path[prefix:] for path in files]
    stamps = dict(zip(names, map(_stamp, files)))
    cache_path = _cache_path(split_dir)
    passed = _read_cache(cache_path)
    good = {name: stamps[name] for name in names if passed.get(name) == stamps[name]}
    unchecked = [(path, name) for path, name in zip(files, names) if name not in good]
    if not unchecked:
        return
    with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
        problems = list(pool.map(file_problem, [path for path, _ in unchecked], chunksize=256))
    damaged = [(path, problem) for (path, _), problem in zip(unchecked, problems) if problem]
    good.update((name, stamps[name]) for (_, name), problem in zip(unchecked, problems) if not problem)
    _write_cache(cache_path, good)
    if damaged:
        path, problem = damaged[0]
        more = f"; {len(damaged) - 1} more file(s) of {split_dir!r} are damaged too" if len(damaged) > 1 else ""
        raise UnreadableImageError(path, problem + more)
