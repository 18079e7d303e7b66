"""``create_transforms``: the per-image op list for training or evaluation, MindCV recipe keys as arguments.

Training (ImageFolder): decode fused with random-resized-crop, flips, auto-augment or colour jitter, normalize,
HWC->CHW, random erasing. Small-image datasets (CIFAR, MNIST-like; ``small_image_crop``) use resize, pad
``crop_padding`` and random-crop instead of random-resized-crop. Evaluation: resize the short side to
``floor(image_resize / crop_pct)``, center-crop ``image_resize``, normalize, HWC->CHW (small images: resize only).
Colour jitter is skipped when an auto-augment policy is set (the policies contain colour ops), as in timm/MindCV.
``separate=True`` (MindCV's augmentation splits) returns the training ops in MindCV's three parts: primary (decode,
crop, flips), secondary (auto-augment or colour jitter), final (normalize, HWC->CHW, random erasing); ``loader``
applies the secondary part to the augmented views only.
"""
import logging
import math

import mindspore.dataset.vision as vision
import numpy as np

from .auto_augment import auto_augment_ops
from .constants import IMAGENET_MEAN_255, IMAGENET_STD_255
from .dataset import ARRAY_DATASETS, SMALL_IMAGE_DATASETS
from .keyed import RandomErasing

_logger = logging.getLogger(__name__)

INTERPOLATIONS = {
    "bilinear": vision.Inter.BILINEAR,
    "bicubic": vision.Inter.BICUBIC,
    "nearest": vision.Inter.NEAREST,
    "area": vision.Inter.AREA,
    "lanczos": vision.Inter.ANTIALIAS,
}
# Rotations/affines of the auto-augment ops only support these; others fall back to bilinear there.
_GEOMETRIC_INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


def interpolation_mode(name):
    """MindSpore ``Inter`` for a recipe interpolation name (lanczos: ``ANTIALIAS``, PIL's Lanczos filter)."""
    if name not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {name!r}; use one of {sorted(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def _to_array(image):
    """A PIL image back to the HWC uint8 array the C++ ops take (grayscale keeps a channel axis)."""
    array = np.asarray(image)
    return array[:, :, None] if array.ndim == 2 else array


def _resizing(op, interpolation):
    """Lanczos exists only in MindSpore's PIL path: such a resize runs on a PIL image, then returns to an array."""
    if interpolation != "lanczos":
        return [op]
    return [_squeeze_gray, vision.ToPIL(), op, _to_array]


def _squeeze_gray(image):
    """PIL takes a single-channel image as H x W."""
    return image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image


def _per_channel(values, in_channels, what):
    values = [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    if len(values) == in_channels:
        return values
    if len(values) == 1:  # one value for every channel (the recipe check accepts it)
        return values * in_channels
    if in_channels == 1 and len(values) == 3:
        return [sum(values) / 3.0]
    raise ValueError(f"{what} has {len(values)} values, the images have {in_channels} channels")


def _color_jitter(color_jitter):
    if isinstance(color_jitter, (int, float)):
        return vision.RandomColorAdjust(color_jitter, color_jitter, color_jitter)
    if len(color_jitter) in (3, 4):
        return vision.RandomColorAdjust(*color_jitter)
    raise ValueError(f"color_jitter must be a number or (brightness, contrast, saturation[, hue]), "
                     f"got {color_jitter!r}")


def add_channel_axis(image):
    """(H, W) -> (1, H, W): MindSpore's RGB-to-gray conversion drops the channel axis."""
    return image[None]


def create_transforms(dataset_name="", image_resize=224, is_training=False, auto_augment=None, separate=False, *,
                      scale=(0.08, 1.0), ratio=(0.75, 1.333), hflip=0.5, vflip=0.0, color_jitter=0.4,
                      interpolation="bilinear", mean=IMAGENET_MEAN_255, std=IMAGENET_STD_255, re_prob=0.0,
                      re_scale=(0.02, 0.33), re_ratio=(0.3, 3.3), re_value=0, re_max_attempts=10, crop_pct=0.875,
                      small_image_crop=None, crop_padding=4, in_channels=3):
    """The op list for ``dataset.map(operations=..., input_columns="image")``; see the module doc for the order.

    The parameters up to ``separate`` and their defaults are MindCV 0.3.0's (``dataset_name=""``: ImageNet-style
    ops; ``is_training=False``: evaluation ops); the keyword-only ones are MindCV's transform arguments and ours.
    ``separate=True``: training ops as the tuple (primary, secondary, final) for ``create_loader(separate=True)``;
    evaluation ops are one list either way, as in MindCV.

    ``small_image_crop``: None picks it for CIFAR/MNIST-like datasets. ``in_channels=1`` turns decoded RGB images
    gray (ImageFolder data); mean/std with 3 values are then averaged.
    """
    name = dataset_name.lower().replace("-", "_")
    encoded = name not in ARRAY_DATASETS
    small = name in SMALL_IMAGE_DATASETS if small_image_crop is None else bool(small_image_crop)
    inter = interpolation_mode(interpolation)
    mean = _per_channel(mean, in_channels, "mean")
    std = _per_channel(std, in_channels, "std")
    ops, secondary = [], []
    if is_training:
        if small:
            ops += [vision.Decode()] if encoded else []
            ops += _resizing(vision.Resize(image_resize, inter), interpolation)
            ops.append(vision.RandomCrop(image_resize, padding=crop_padding))
        elif encoded and interpolation != "lanczos":
            ops.append(vision.RandomCropDecodeResize(image_resize, scale=tuple(scale), ratio=tuple(ratio),
                                                     interpolation=inter))
        else:
            ops += [vision.Decode()] if encoded else []
            ops += _resizing(vision.RandomResizedCrop(image_resize, scale=tuple(scale), ratio=tuple(ratio),
                                                      interpolation=inter), interpolation)
        if hflip > 0:
            ops.append(vision.RandomHorizontalFlip(hflip))
        if vflip > 0:
            ops.append(vision.RandomVerticalFlip(vflip))
        if auto_augment:
            geometric = inter if interpolation in _GEOMETRIC_INTERPOLATIONS else vision.Inter.BILINEAR
            secondary += auto_augment_ops(auto_augment, geometric)
            if color_jitter:
                _logger.info("color_jitter=%s is not applied: auto_augment %r already varies colour",
                             color_jitter, auto_augment)
        elif color_jitter and not encoded and in_channels == 1:
            # MindSpore's colour jitter takes RGB only; decoded gray datasets reach it with one channel.
            _logger.warning("color_jitter=%s is skipped: it needs RGB images and %s is read with in_channels=1",
                            color_jitter, dataset_name)
        elif color_jitter:
            secondary.append(_color_jitter(color_jitter))
    else:
        ops += [vision.Decode()] if encoded else []
        if small:
            ops += _resizing(vision.Resize(image_resize, inter), interpolation)
        else:
            ops += _resizing(vision.Resize(math.floor(image_resize / crop_pct), inter), interpolation)
            ops.append(vision.CenterCrop(image_resize))
    final = [vision.ConvertColor(vision.ConvertMode.COLOR_RGB2GRAY)] if encoded and in_channels == 1 else []
    final += [vision.Normalize(mean=mean, std=std), vision.HWC2CHW()]
    if encoded and in_channels == 1:
        final.append(add_channel_axis)
    if is_training and re_prob > 0:
        final.append(RandomErasing(re_prob, tuple(re_scale), tuple(re_ratio), re_value, re_max_attempts))
    if separate and is_training:
        return ops, secondary, final
    return ops + secondary + final
