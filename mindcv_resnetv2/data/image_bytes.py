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
(microseconds per file). WebP and GIF are refused by name; other formats go to MindSpore, whose own error the
loader reports with the file's name.
"""
from ..errors import UserError

JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
PNG_START = b"\x89PNG\r\n\x1a\n"
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


class DamagedImageBytes(ValueError):
    """Raised by ``refuse_damaged`` inside the pipeline, where the file name is not known; the loader reports the
    file as ``UnreadableImageError``."""


def image_bytes_problem(data, mindspore_decodes=True):
    """Why the encoded image ``data`` (bytes or 1-D uint8 array) must not be decoded, or None.

    ``mindspore_decodes=False`` (PIL decodes it, as infer.py does for array-dataset recipes) accepts WebP and GIF.
    """
    view = memoryview(data).cast("B")
    if len(view) == 0:
        return "empty file"
    if view[:2] == JPEG_START:
        return _jpeg_problem(view)
    if view[:8] == PNG_START and view[-12:] != _PNG_END and view.tobytes().rfind(b"IEND") < 0:
        return f"PNG cut at byte {len(view)} (no IEND chunk)"
    if mindspore_decodes and view[:4] == b"RIFF" and view[8:12] == b"WEBP":
        return "a WebP file: MindSpore's Decode does not read WebP; convert it to JPEG or PNG"
    if mindspore_decodes and view[:4] == b"GIF8":
        return "a GIF file: MindSpore's Decode does not read GIF; convert it to JPEG or PNG"
    return None


def _jpeg_problem(view):
    """The JPEG check of the module doc: segments up to the first scan, then an end-of-image marker after it."""
    size, pos, frame_tables, defined_tables = len(view), 2, None, set()
    while True:
        while pos + 1 < size and view[pos] == 0xFF and view[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > size:
            return f"JPEG cut at byte {size}, inside its header (before the first scan)"
        if view[pos] != 0xFF:  # stray bytes between segments: libjpeg (MindSpore, PIL) skips them to the next marker
            skipped = view[pos:].tobytes().find(b"\xff")
            if skipped < 0:
                return f"JPEG cut at byte {size}, inside its header (before the first scan)"
            pos += skipped
            continue
        marker = view[pos + 1]
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if marker in (0xD8, 0xD9):
            return f"damaged JPEG header: marker FF{marker:02X} at byte {pos}, before the first scan"
        if pos + 4 > size:
            return f"JPEG cut at byte {size}, inside its header (before the first scan)"
        end = pos + 2 + int.from_bytes(view[pos + 2:pos + 4], "big")
        if end > size:
            return f"JPEG cut at byte {size}, inside its header (segment FF{marker:02X} at byte {pos} ends at {end})"
        if end < pos + 4:
            return f"damaged JPEG header: segment FF{marker:02X} at byte {pos} has a length below 2"
        segment = view[pos + 4:end]
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
    if view[size - 2:] != _JPEG_END and view[end:].tobytes().rfind(_JPEG_END) < 0:
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


def refuse_damaged(data):
    """Pipeline op placed before decoding: ``data`` unchanged, or DamagedImageBytes saying why it is refused."""
    problem = image_bytes_problem(data)
    if problem:
        raise DamagedImageBytes(problem)
    return data
