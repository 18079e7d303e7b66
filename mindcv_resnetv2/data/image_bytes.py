"""Refuse encoded images that would crash MindSpore's decoders, before those decoders see them.

What MindSpore 2.8.0 does with damaged files (measured at every 16th byte of cut JPEG, progressive JPEG, PNG, BMP
and TIFF files, with both ``vision.Decode`` and ``vision.RandomCropDecodeResize``):

* a JPEG cut between its frame header (SOF) and its scan header (SOS) kills the process with SIGFPE or SIGSEGV,
  and so does a JPEG with no SOF or without a quantization table its frame uses; a progressive JPEG cut inside a
  later scan can crash them too or make them loop forever; a JPEG cut inside its first scan often decodes, the
  missing rows grey;
* PNG, BMP and TIFF files cut anywhere raise an error (a PNG missing only its final IEND chunk too, though PIL
  decodes it); WebP and GIF files always raise one (and MindSpore writes a copy of the file into the working
  directory).

So JPEGs get a structural check: the segments up to the first SOS must be complete, a frame header and every
quantization table it uses must come before that SOS, and an end-of-image marker must follow it. PNGs must hold an
IEND chunk, so that ``data.check`` lists the PNGs the pipeline refuses. Only the headers and the last bytes are read
(``file_problem``: two small reads per good file). WebP and GIF are refused by name, and so is a file with no JPEG,
PNG, BMP or TIFF signature (e.g. a text file named .jpg, on which MindSpore prints several error lines of its own);
a damaged BMP or TIFF goes to MindSpore, whose own error the loader reports with the file's name.
"""
import os

from ..errors import UserError

JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
PNG_START = b"\x89PNG\r\n\x1a\n"
_BMP_START, _TIFF_STARTS = b"BM", (b"II*\x00", b"MM\x00*")
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk: zero length, type, CRC
_START_OF_SCAN, _QUANTIZATION_TABLE = 0xDA, 0xDB
_START_OF_FRAME = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
_LOSSLESS_FRAME = frozenset([0xC3, 0xC7, 0xCB, 0xCF])
_NO_LENGTH = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM and RSTn stand alone


class UnreadableImageError(RuntimeError, UserError):
    """An image file cannot be decoded; ``path`` names it and ``reason`` says why when it is known."""

    def __init__(self, path, reason=None):
        self.path, self.reason = path, reason or "corrupt or truncated"
        super().__init__(f"cannot read image {path!r} ({self.reason}). Replace or delete it; "
                         f"`python -m mindcv_resnetv2.data.check ROOT` lists every unreadable image file of a dataset")


class _NeedMore(Exception):
    """The check needs bytes of the file beyond the first block read (a long header, data after the end marker)."""


_HEAD_BYTES, _END_BYTES = 4096, 16


def file_problem(path):
    """Why the image file ``path`` must not reach MindSpore's decoders (``image_bytes_problem``), or None.

    Reads the first 4 KB and the last bytes (a good photo's header fits), the whole file only when that is not
    enough.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(_HEAD_BYTES)
            if len(head) < size:
                handle.seek(size - _END_BYTES)
                try:
                    return _problem(head, size, handle.read(), mindspore_decodes=True)
                except _NeedMore:
                    handle.seek(len(head))
                    head += handle.read()
            return _problem(head, len(head), head[-_END_BYTES:], mindspore_decodes=True)
    except OSError as exc:  # a dangling link, no permission, an I/O error: unreadable too
        return f"{type(exc).__name__}: {exc.strerror or exc}"


def image_bytes_problem(data, mindspore_decodes=True):
    """Why the encoded image ``data`` (bytes or 1-D uint8 array) must not be decoded, or None.

    ``mindspore_decodes=False`` (PIL decodes it, as infer.py does for array-dataset recipes) accepts WebP, GIF and
    any other signature.
    """
    data = memoryview(data).cast("B").tobytes()
    return _problem(data, len(data), data[-_END_BYTES:], mindspore_decodes)


def _problem(head, size, ending, mindspore_decodes):
    """``image_bytes_problem`` of a file of ``size`` bytes that starts with ``head`` (all of it, or a prefix: then
    _NeedMore if the answer depends on the rest) and ends with ``ending``."""
    if size == 0:
        return "empty file"
    if head[:2] == JPEG_START:
        return _jpeg_problem(head, size, ending)
    if head[:8] == PNG_START:
        if ending[-12:] == _PNG_END:
            return None
        if len(head) < size:
            raise _NeedMore
        return None if head.rfind(b"IEND") >= 0 else f"PNG cut at byte {size} (no IEND chunk)"
    if not mindspore_decodes or head[:2] == _BMP_START or head[:4] in _TIFF_STARTS:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP file: MindSpore's Decode does not read WebP; convert it to JPEG or PNG"
    if head[:4] == b"GIF8":
        return "a GIF file: MindSpore's Decode does not read GIF; convert it to JPEG or PNG"
    return f"not an image MindSpore decodes: it starts with {head[:8]!r}, not a JPEG, PNG, BMP or TIFF signature"


def _jpeg_problem(data, size, ending):
    """The JPEG check of the module doc: segments up to the first scan, then an end-of-image marker after it.

    ``data`` is the file's start (see ``_problem``); every read past it raises _NeedMore.
    """
    pos, frame_tables, defined_tables, partial = 2, None, set(), len(data) < size
    while True:
        while pos + 1 < len(data) and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > size:
            return f"JPEG cut at byte {size}, inside its header (before the first scan)"
        if partial and pos + 4 > len(data):
            raise _NeedMore
        if data[pos] != 0xFF:  # stray bytes between segments: libjpeg (MindSpore, PIL) skips them to the next marker
            skipped = data.find(b"\xff", pos)
            if skipped < 0 and partial:
                raise _NeedMore
            if skipped < 0:
                return f"JPEG cut at byte {size}, inside its header (before the first scan)"
            pos = skipped
            continue
        marker = data[pos + 1]
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if marker in (0xD8, 0xD9):
            return f"damaged JPEG header: marker FF{marker:02X} at byte {pos}, before the first scan"
        if pos + 4 > size:
            return f"JPEG cut at byte {size}, inside its header (before the first scan)"
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if end > size:
            return f"JPEG cut at byte {size}, inside its header (segment FF{marker:02X} at byte {pos} ends at {end})"
        if end < pos + 4:
            return f"damaged JPEG header: segment FF{marker:02X} at byte {pos} has a length below 2"
        if end > len(data):
            raise _NeedMore
        segment = data[pos + 4:end]
        if marker == _QUANTIZATION_TABLE:
            defined_tables |= _quantization_table_ids(segment)
        elif marker in _START_OF_FRAME:
            components = segment[5] if len(segment) >= 6 else 0
            if components == 0 or len(segment) < 6 + 3 * components:
                return f"damaged JPEG frame header at byte {pos}"
            # Lossless frames (SOF3/7/11/15) use no quantization tables.
            frame_tables = set() if marker in _LOSSLESS_FRAME else {segment[8 + 3 * c] for c in range(components)}
        elif marker == _START_OF_SCAN:
            break
        pos = end
    if frame_tables is None:
        return "damaged JPEG header: no frame header (SOF) before the first scan"
    if not frame_tables <= defined_tables:
        missing = sorted(frame_tables - defined_tables)
        return f"damaged JPEG header: quantization table(s) {missing} used by the frame are not defined"
    if ending[-2:] == _JPEG_END:
        return None
    if partial:
        raise _NeedMore
    if data.rfind(_JPEG_END, end) < 0:
        return f"JPEG cut at byte {size}, inside its image data (no end-of-image marker)"
    return None


def _quantization_table_ids(segment):
    """Table ids a DQT segment defines (each table: precision/id byte, then 64 values of 1 or 2 bytes)."""
    ids, pos = set(), 0
    while pos < len(segment):
        precision, table_id = segment[pos] >> 4, segment[pos] & 0x0F
        pos += 1 + 64 * (2 if precision else 1)
        if pos <= len(segment):
            ids.add(table_id)
    return ids
