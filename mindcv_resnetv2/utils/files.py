"""File helpers shared by the checkpoint and download code."""
import hashlib


def file_digest(path, algorithm="sha256"):
    """Hex digest of a file, read in 1 MiB chunks so large checkpoints and archives never sit in memory whole."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
