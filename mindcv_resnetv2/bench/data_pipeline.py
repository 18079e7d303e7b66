"""``python -m mindcv_resnetv2.bench.data_pipeline``: images/s of the train and eval pipelines alone, versus plain PIL.

Generates a JPEG ImageFolder with ImageNet-like image sizes in a temporary folder, then times one epoch of
(a) this package's MindSpore pipelines (recipe defaults: random-resized-crop fused with decode, flip, colour jitter
0.4, normalize; eval: resize, center crop, normalize) and (b) the same work written with PIL and numpy in Python,
the way a torchvision user's DataLoader runs it (one process per worker), for each worker count.

``--file-check`` instead times one epoch of the pipelines without the damaged-image check (``file_check``, run
when the dataset is built), with it cached (a later run, another rank, validation) and with an empty cache (the
first build of a dataset: the worst case; later epochs of a run pay nothing), alternating the three, and the check
alone per file.
"""
import argparse
import math
import os
import random
import tempfile
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageEnhance

from ..data.constants import IMAGENET_MEAN_255, IMAGENET_STD_255
from ..data.dataset import create_dataset
from ..data.file_check import refuse_damaged_files, split_files
from ..data.loader import create_loader
from ..data.transforms import create_transforms
from .image_folder import empty_check_cache, make_image_folder
from .measure import median, time_repeated


def pipeline_rate(root, training, size, workers, batch_size, check_files=True):
    """Images/s of one epoch through create_dataset + create_loader, building them included (the file check)."""
    start, count = time.perf_counter(), 0
    dataset = create_dataset("imagefolder", root, "train", shuffle=training, num_parallel_workers=workers,
                             check_files=check_files)
    transform = create_transforms("imagefolder", is_training=training, image_resize=size)
    loader = create_loader(dataset, batch_size=batch_size, drop_remainder=False, is_training=training,
                           transform=transform, num_parallel_workers=workers)
    for images, _ in loader.create_tuple_iterator(output_numpy=True):
        count += len(images)
    return count / (time.perf_counter() - start)


_MEAN = np.array(IMAGENET_MEAN_255, np.float32)
_STD = np.array(IMAGENET_STD_255, np.float32)


def pil_train_sample(path, size=224):
    """The training transform in plain PIL/numpy: random-resized-crop, flip, colour jitter 0.4, normalize, CHW."""
    image = Image.open(path).convert("RGB")
    width, height = image.size
    for _ in range(10):
        area = width * height * random.uniform(0.08, 1.0)
        aspect = math.exp(random.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            left, top = random.randint(0, width - w), random.randint(0, height - h)
            break
    else:
        w, h, left, top = width, height, 0, 0
    image = image.resize((size, size), Image.BILINEAR, box=(left, top, left + w, top + h))
    if random.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhance(image).enhance(random.uniform(0.6, 1.4))
    return ((np.asarray(image, np.float32) - _MEAN) / _STD).transpose(2, 0, 1)


def pil_eval_sample(path, size=224, crop_pct=0.875):
    """The eval transform in plain PIL/numpy: resize short side, center crop, normalize, CHW."""
    image = Image.open(path).convert("RGB")
    short = math.floor(size / crop_pct)
    width, height = image.size
    scale = short / min(width, height)
    image = image.resize((max(short, round(width * scale)), max(short, round(height * scale))), Image.BILINEAR)
    left, top = (image.size[0] - size) // 2, (image.size[1] - size) // 2
    image = image.crop((left, top, left + size, top + size))
    return ((np.asarray(image, np.float32) - _MEAN) / _STD).transpose(2, 0, 1)


def pil_rate(files, training, workers, batch_size):
    """Images/s of the PIL transform over ``files`` with ``workers`` processes, batches stacked like a DataLoader."""
    work = pil_train_sample if training else pil_eval_sample
    start = time.perf_counter()
    with Pool(workers) as pool:
        samples = pool.map(work, files, chunksize=batch_size)
    for first in range(0, len(samples), batch_size):
        np.stack(samples[first:first + batch_size])
    return len(files) / (time.perf_counter() - start)


def check_cost(root):
    """(us per file the first time, us per file cached) of the file check on ``root``'s train split, in the
    current cache (an empty one for the first figure to be a first time)."""
    split = os.path.join(root, "train")
    classes = sorted(os.listdir(split))
    files = len(split_files(split, classes))
    return [seconds * 1e6 / files for seconds in time_repeated(lambda: refuse_damaged_files(split, classes), 2)]


def compare_file_check(root, size, worker_counts, batch_size, repeats):
    """Print one epoch's img/s without the file check, with it cached (a later run, rank or validation) and with
    an empty cache (the first build: the worst case), ``repeats`` rounds per setting in alternating order."""
    with empty_check_cache():
        first, cached = check_cost(root)
    print(f"file check alone: {first:.1f} us/file first time, {cached:.1f} us/file cached")
    print(f"{'pipeline':<10}{'workers':>8}{'without img/s':>15}{'cached img/s':>14}{'ratio':>8}"
          f"{'first img/s':>13}{'ratio':>8}")
    modes = ("without", "cached", "first")
    for training in (True, False):
        for workers in worker_counts:
            rates = {mode: [] for mode in modes}
            for repeat in range(repeats):
                for mode in (modes if repeat % 2 == 0 else modes[::-1]):
                    with empty_check_cache():
                        if mode == "cached":
                            check_cost(root)  # fills this cache
                        rate = pipeline_rate(root, training, size, workers, batch_size, check_files=mode != "without")
                    rates[mode].append(rate)
            rows = list(zip(*(rates[mode] for mode in modes))) + [tuple(median(rates[mode]) for mode in modes)]
            for index, (plain, cached_rate, first_rate) in enumerate(rows):
                label = "median" if index == repeats else workers
                print(f"{'train' if training else 'eval':<10}{label:>8}{plain:>15.1f}{cached_rate:>14.1f}"
                      f"{cached_rate / plain:>7.3f}x{first_rate:>13.1f}{first_rate / plain:>7.3f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400, help="number of generated JPEG images")
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--height", type=int, default=375)
    parser.add_argument("--size", type=int, default=224, help="crop size fed to the model")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--file-check", action="store_true",
                        help="compare the pipelines with and without the damaged-image check instead of PIL")
    parser.add_argument("--repeats", type=int, default=3, help="alternating pairs per setting (--file-check)")
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.workers.split(",")]
    print(f"cores: {os.cpu_count()}; {args.images} JPEG images {args.width}x{args.height} -> {args.size}x{args.size}")
    with tempfile.TemporaryDirectory() as root, empty_check_cache():
        make_image_folder(root, args.images, args.width, args.height)
        files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "train")) for f in sorted(fs)]
        pipeline_rate(root, True, args.size, 1, args.batch_size)  # warm the page cache and MindSpore's engine
        if args.file_check:
            compare_file_check(root, args.size, worker_counts, args.batch_size, args.repeats)
            return
        print(f"{'pipeline':<10}{'workers':>8}{'mindspore img/s':>17}{'PIL img/s':>11}{'speed-up':>10}"
              f"{'ms img/s/core':>15}")
        for training in (True, False):
            for workers in worker_counts:
                ours = pipeline_rate(root, training, args.size, workers, args.batch_size)
                theirs = pil_rate(files, training, workers, args.batch_size)
                print(f"{'train' if training else 'eval':<10}{workers:>8}{ours:>17.1f}{theirs:>11.1f}"
                      f"{ours / theirs:>9.2f}x{ours / min(workers, os.cpu_count()):>15.1f}")


if __name__ == "__main__":
    main()
