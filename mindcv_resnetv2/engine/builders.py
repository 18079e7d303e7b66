"""Recipe -> objects: the network, the data loaders and the training objects, shared by train and validate."""
import logging
import os

from ..data import create_dataset, create_loader, create_transforms, read_class_names
from ..checkpoint import CheckpointError, load_state_dict, read_checkpoint
from ..models import create_model, get_default_cfg
from ..models.registry import pretrained_weights_path
from ..utils.backend import warn_once

_logger = logging.getLogger("mindcv_resnetv2")


def resolve_classes(cfg, split):
    """(class names, num_classes): from the dataset, or from the recipe when it sets num_classes."""
    names = read_class_names(cfg.dataset, cfg.data_dir, split, num_classes=cfg.num_classes)
    num_classes = cfg.num_classes or len(names)
    if cfg.num_classes and len(names) != cfg.num_classes and cfg.dataset != "synthetic":
        raise ValueError(
            f"num_classes is {cfg.num_classes} but {cfg.data_dir} split '{split}' has {len(names)} classes "
            f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}); set num_classes: {len(names)} or null"
        )
    return names, num_classes


class MissingWeightsError(ValueError):
    """validate/infer/export got no weights: a randomly initialised network would only measure chance."""


def weights_path(cfg):
    """The weights to evaluate or deploy: --ckpt_path, else the registry's published file with --pretrained."""
    if cfg.ckpt_path:
        if not os.path.isfile(cfg.ckpt_path):
            raise FileNotFoundError(f"ckpt_path '{cfg.ckpt_path}' does not exist; give an existing checkpoint file")
        return cfg.ckpt_path
    if cfg.pretrained:
        return pretrained_weights_path(cfg.model)
    raise MissingWeightsError(
        "no weights given: pass --ckpt_path path/to/model.ckpt (a training run writes them to its ckpt_save_dir), "
        f"or --pretrained True for the registry's weights of {cfg.model}"
    )


def build_network(cfg, num_classes, checkpoint_path=""):
    """The recipe's model with its initial weights (pretrained / checkpoint_path, loaded strictly)."""
    return create_model(
        cfg.model,
        pretrained=cfg.pretrained and not checkpoint_path,
        num_classes=num_classes,
        in_channels=cfg.in_channels,
        checkpoint_path=checkpoint_path,
        drop_rate=cfg.drop_rate or 0.0,
        drop_path_rate=cfg.drop_path_rate or 0.0,
    )


def build_evaluation_network(cfg, num_classes, path, entries=None):
    """The recipe's model in eval mode with every parameter from the checkpoint at `path`: what validate, infer and
    export score. Strict: nothing missing, nothing unexpected, and a classifier of another class count is an
    error naming both shapes (dropping it is for fine-tuning in train.py only). `entries`: the file, if read."""
    classifier_name = get_default_cfg(cfg.model).get("classifier", "classifier")
    net = create_model(cfg.model, num_classes=num_classes, in_channels=cfg.in_channels)
    try:
        load_state_dict(net, read_checkpoint(path) if entries is None else entries, source=path, use_ema=cfg.ema,
                        num_classes_mismatch="error", classifier_name=classifier_name)
    except CheckpointError as exc:
        raise CheckpointError(
            f"{exc} Evaluation needs every parameter from the checkpoint: use the recipe of the run that wrote "
            f"'{path}' (its recipe.yaml) and data with its classes; this one has model {cfg.model} with "
            f"{num_classes} classes."
        ) from None
    net.set_train(False)
    return net


def parallel_workers(requested):
    """MindSpore refuses more pipeline workers than CPU cores: cap the recipe's value (8 in MindCV's recipes)."""
    cores = os.cpu_count() or 1
    if requested > cores:
        warn_once("workers", "num_parallel_workers %d is more than the %d CPU cores here; using %d.", requested,
                  cores, cores)
        return cores
    return requested


def build_transforms(cfg, training):
    """The recipe's train or eval image ops; validation, training and infer.py all take them from here."""
    return create_transforms(
        dataset_name=cfg.dataset,
        is_training=training,
        image_resize=cfg.image_resize,
        scale=tuple(cfg.scale),
        ratio=tuple(cfg.ratio),
        hflip=cfg.hflip,
        vflip=cfg.vflip,
        color_jitter=cfg.color_jitter,
        interpolation=cfg.interpolation,
        auto_augment=cfg.auto_augment,
        mean=cfg.mean,
        std=cfg.std,
        re_prob=cfg.re_prob,
        re_scale=tuple(cfg.re_scale),
        re_ratio=tuple(cfg.re_ratio),
        re_value=cfg.re_value,
        re_max_attempts=cfg.re_max_attempts,
        crop_pct=cfg.crop_pct,
        small_image_crop=None if cfg.crop_padding is None else True,
        crop_padding=4 if cfg.crop_padding is None else cfg.crop_padding,
        in_channels=cfg.in_channels,
    )


def build_loader(cfg, runtime, split, training, num_classes, epoch=0, num_samples=None):
    """One epoch's batches of this rank's shard; order and augmentation depend only on (seed, epoch, rank)."""
    workers = parallel_workers(cfg.num_parallel_workers)
    dataset = create_dataset(
        name=cfg.dataset,
        root=cfg.data_dir,
        split=split,
        shuffle=training and cfg.shuffle,
        num_samples=num_samples,
        num_shards=runtime.group_size if runtime.group_size > 1 else None,
        shard_id=runtime.rank if runtime.group_size > 1 else None,
        num_parallel_workers=workers,
        download=cfg.dataset_download,
        num_aug_repeats=cfg.aug_repeats if training else 0,
        seed=cfg.seed,
        epoch=epoch,
        is_training=training,
        in_channels=cfg.in_channels,
        image_size=cfg.image_resize,
        num_classes=num_classes,
    )
    transform = build_transforms(cfg, training)
    return create_loader(
        dataset,
        batch_size=cfg.batch_size,
        drop_remainder=cfg.drop_remainder if training else False,
        is_training=training,
        mixup=cfg.mixup,
        cutmix=cfg.cutmix,
        cutmix_prob=cfg.cutmix_prob,
        label_smoothing=cfg.label_smoothing,
        num_classes=num_classes,
        transform=transform,
        num_parallel_workers=workers,
        seed=cfg.seed,
        epoch=epoch,
    )


def mixing_enabled(cfg):
    """MixUp/CutMix produce smoothed soft targets in the loader; the loss must then not smooth again."""
    return cfg.mixup > 0 or cfg.cutmix > 0
