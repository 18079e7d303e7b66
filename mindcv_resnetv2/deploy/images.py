"""Image files -> model inputs with the recipe's evaluation transforms, exactly as validation sees them.

ImageFolder recipes feed the file's bytes to the same Decode/resize/crop/normalize ops as the data pipeline.
Recipes of in-memory datasets (CIFAR, MNIST-like) train on decoded pixel arrays, so the file is decoded to
the array layout their readers produce (HWC uint8, in_channels channels) before the same ops.
Every file first passes the data pipeline's checks (``data.check.decode_error``: the structural check MindSpore's
decoders need, then a complete PIL decode), so a damaged file is an ``UnreadableImageError`` naming it.
"""
import os

import numpy as np
from PIL import Image

from ..engine.builders import build_transforms
from ..data.check import decode_error, image_files
from ..data.dataset import ARRAY_DATASETS
from ..data.image_bytes import UnreadableImageError
from ..data.sources import IMAGE_EXTENSIONS, adapt_channels
from ..errors import InvalidInputError


class ImageInputError(InvalidInputError):
    """The image file or folder to predict on is missing or holds no image files."""


def find_images(path):
    """The image files to predict on: `path` itself if it is a file, else every image under it, sorted."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise ImageInputError(f"input {path!r} does not exist; give an image file or a folder of images")
    files = image_files(path)
    if not files:
        raise ImageInputError(
            f"input folder {path!r} holds no image files (searched recursively for {', '.join(IMAGE_EXTENSIONS[:7])})"
        )
    return files


def _mindspore_decodes(cfg):
    """ImageFolder recipes decode the file's bytes with MindSpore; array-dataset recipes get PIL-decoded pixels."""
    return cfg.dataset.lower().replace("-", "_") not in ARRAY_DATASETS


def _decoded_for(cfg, path):
    """What the recipe's first transform expects: the encoded bytes, or the HWC uint8 array of an array dataset."""
    if _mindspore_decodes(cfg):
        return np.fromfile(path, dtype=np.uint8)
    with Image.open(path) as image:
        return adapt_channels(np.asarray(image.convert("RGB")), cfg.in_channels)


def load_image(path, cfg, transforms=None):
    """One image file as a float32 CHW array ready for the network; `transforms` defaults to build_transforms(cfg, training=False)."""
    reason = decode_error(path, _mindspore_decodes(cfg))
    if reason:
        raise UnreadableImageError(path, reason)
    image = _decoded_for(cfg, path)
    for op in transforms or build_transforms(cfg, training=False):
        image = op(image)
    return np.asarray(image, dtype=np.float32)
