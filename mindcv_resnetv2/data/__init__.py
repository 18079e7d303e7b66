"""Data pipeline: datasets, train/eval transforms, MixUp/CutMix and sharding on MindSpore's dataset engine."""
from .auto_augment import parse_auto_augment
from .constants import IMAGENET_MEAN_255, IMAGENET_STD_255
from .dataset import create_dataset, read_class_names
from .download import download_dataset
from .image_bytes import UnreadableImageError
from .loader import Loader, create_loader
from .sources import DatasetLayoutError
from .transforms import create_transforms

__all__ = ["create_dataset", "read_class_names", "create_transforms", "create_loader", "Loader",
           "parse_auto_augment", "download_dataset", "DatasetLayoutError", "UnreadableImageError",
           "IMAGENET_MEAN_255", "IMAGENET_STD_255"]
