"""Generated JPEG ImageFolders for the pipeline benchmarks, and a file-check cache of their own.

Both the data pipeline alone (data_pipeline.py) and the training step fed by it (pipeline.py) read such a folder.
"""
import contextlib
import os
import tempfile

import numpy as np
from PIL import Image

from ..data.file_check import CACHE_VARIABLE


def make_image_folder(root, num_images, width, height, num_classes=4, seed=0):
    """A JPEG ImageFolder of smooth random images (JPEG sizes and decode cost like photos, unlike pure noise)."""
    rng = np.random.default_rng(seed)
    for i in range(num_images):
        folder = os.path.join(root, "train", f"class_{i % num_classes}")
        os.makedirs(folder, exist_ok=True)
        coarse = Image.fromarray(rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8))
        image = np.asarray(coarse.resize((width, height), Image.BICUBIC), dtype=np.int16)
        image = np.clip(image + rng.integers(-12, 13, image.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(os.path.join(folder, f"img_{i:05d}.jpg"), quality=90)
    return root


@contextlib.contextmanager
def empty_check_cache():
    """The file check's cache in a new empty folder for the duration (every build checks every file)."""
    previous = os.environ.get(CACHE_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="check_cache_") as cache:
        os.environ[CACHE_VARIABLE] = cache
        try:
            yield
        finally:
            os.environ.pop(CACHE_VARIABLE)
            if previous is not None:
                os.environ[CACHE_VARIABLE] = previous
