"""``python -m mindcv_resnetv2.data.check ROOT``: list the image files under ROOT that cannot be fully decoded.

Run it before a long training run: the pipeline stops at the first unreadable file (``UnreadableImageError``).
A file counts as unreadable if the pipeline refuses it (``image_bytes``: damaged JPEG headers, files cut short,
WebP, GIF and files with no image signature) or PIL cannot decode all of its pixels. Exit status 1 when any file
is unreadable, 0 otherwise.
"""
import argparse
import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from ..errors import MissingFileError, UserError
from .image_bytes import image_bytes_problem
from .sources import IMAGE_EXTENSIONS


def image_files(root):
    """Every file with an image extension under ``root``, sorted."""
    found = []
    for folder, _, files in os.walk(root):
        found += [os.path.join(folder, f) for f in files if f.endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def decode_error(path, mindspore_decodes=True):
    """None if the pipeline accepts the image and PIL decodes it completely, else the reason.

    ``mindspore_decodes=False``: the image will be decoded by PIL only (see ``image_bytes_problem``).
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:  # a dangling link, no permission, an I/O error: unreadable too
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    problem = image_bytes_problem(data, mindspore_decodes)
    if problem:
        return problem
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
        return None
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, ValueError...) for broken files
        return f"{type(exc).__name__}: {exc}"


def unreadable_files(root, workers=None):
    """([(path, reason)] for the files under ``root`` that do not decode, number of image files checked)."""
    if not os.path.isdir(root):
        raise MissingFileError(f"{root!r} is not a directory; give the dataset root (e.g. the folder with train/)")
    files = image_files(root)
    with ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        reasons = list(pool.map(decode_error, files))
    return [(path, reason) for path, reason in zip(files, reasons) if reason], len(files)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mindcv_resnetv2.data.check", description=__doc__.splitlines()[0])
    parser.add_argument("root", help="dataset root (searched recursively for image files)")
    parser.add_argument("--workers", type=int, default=None, help="decoding threads (default: all cores)")
    args = parser.parse_args(argv)
    try:
        bad, total = unreadable_files(args.root, args.workers)
    except UserError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    for path, reason in bad:
        print(f"{path}\t{reason}")
    print(f"{len(bad)} unreadable of {total} image files under {args.root}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
