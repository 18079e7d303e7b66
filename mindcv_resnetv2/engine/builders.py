"""Recipe -> objects, in one place: the network, the data loaders, the loss, optimizer, schedule, loss scaling,
EMA and compiled step cells of a training run, and the network and loader of an evaluation. The trainer,
validate.py, infer.py, export.py and the benchmark take their parts from here; nothing else reads a recipe to
build something."""
import collections
import logging
import os

import mindspore as ms
from mindspore import Parameter, ops

from ..amp import auto_mixed_precision
from ..checkpoint import CheckpointError, load_state_dict, read_checkpoint
from ..data import create_dataset, create_loader, create_transforms, download_dataset, read_class_names
from ..errors import InvalidInputError
from ..models import create_model, get_default_cfg
from ..models.pretrained import checkpoint_entries, pretrained_weights_path
from ..optim import create_loss, create_optimizer, create_scheduler
from ..optim.fine_tune_lr import large_fine_tune_lr_warning
from ..utils.backend import warn_once
from .evaluation import Evaluator
from .train_step import LossScaling, NetWithLoss, TrainStep, ema_parameters, ema_update_counter

_logger = logging.getLogger("mindcv_resnetv2")


def resolve_classes(cfg, split):
    """(class names, num_classes): from the dataset, or from the recipe when it sets num_classes."""
    if cfg.dataset_download:  # the names are read from the files the download brings (skipped when there)
        download_dataset(cfg.dataset, cfg.data_dir)
    names = read_class_names(cfg.dataset, cfg.data_dir, split, num_classes=cfg.num_classes)
    num_classes = cfg.num_classes or len(names)
    if cfg.num_classes and len(names) != cfg.num_classes and cfg.dataset != "synthetic":
        raise InvalidInputError(
            f"num_classes is {cfg.num_classes} but {cfg.data_dir} split '{split}' has {len(names)} classes "
            f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}); set num_classes: {len(names)} or null"
        )
    return names, num_classes


def resolve_training_classes(cfg):
    """resolve_classes of the train split; with val_while_train the val split must have the same classes."""
    names, num_classes = resolve_classes(cfg, cfg.train_split)
    if cfg.val_while_train:
        val_names, _ = resolve_classes(cfg, cfg.val_split)
        if val_names != names:
            only_train = sorted(set(names) - set(val_names))
            only_val = sorted(set(val_names) - set(names))
            raise InvalidInputError(
                f"the classes of split '{cfg.val_split}' differ from those of '{cfg.train_split}' in "
                f"{cfg.data_dir} (only in {cfg.train_split}: {only_train or 'none'}; only in {cfg.val_split}: "
                f"{only_val or 'none'}), so its labels would mean other classes. Give both splits the same class "
                f"folders, or pass --val_while_train False."
            )
    return names, num_classes


class MissingWeightsError(InvalidInputError):
    """validate/infer/export got no weights: a randomly initialised network would only measure chance."""


def weights_path(cfg):
    """The weights to evaluate or deploy: --ckpt_path, else the registry's published file with --pretrained.

    A missing ckpt_path is refused when the recipe is checked (config.checks) and again, for library callers, by
    checkpoint.read_checkpoint, which reads it."""
    if cfg.ckpt_path:
        return cfg.ckpt_path
    if cfg.pretrained:
        return pretrained_weights_path(cfg.model)
    raise MissingWeightsError(
        "no weights given: pass --ckpt_path path/to/model.ckpt (a training run writes them to its ckpt_save_dir), "
        f"or --pretrained True for the registry's weights of {cfg.model}"
    )


def build_network(cfg, num_classes, checkpoint_path="", load_weights=True):
    """The recipe's model with its initial weights (pretrained / checkpoint_path, loaded strictly), frozen where
    freeze_backbone / freeze_stages say (before any optimizer is built on its trainable parameters).

    load_weights=False: randomly initialised, for a network whose weights are about to be overwritten (a resumed
    run, the EMA copy), so published weights are neither read nor downloaded for nothing.
    """
    net = create_model(
        cfg.model,
        pretrained=load_weights and cfg.pretrained and not checkpoint_path,
        num_classes=num_classes,
        in_channels=cfg.in_channels,
        checkpoint_path=checkpoint_path if load_weights else "",
        drop_rate=cfg.drop_rate or 0.0,
        drop_path_rate=cfg.drop_path_rate or 0.0,
        zero_init_head=cfg.zero_init_head,
    )
    if cfg.freeze_backbone or cfg.freeze_stages:
        net.freeze(num_stages=cfg.freeze_stages, backbone=cfg.freeze_backbone)
    return net


def build_evaluation_network(cfg, num_classes, path, entries=None):
    """The recipe's model in eval mode with every parameter from the checkpoint at `path`, at val_amp_level: what
    validate, infer and export score. Strict: nothing missing, nothing unexpected, and a classifier of another
    class count is an error naming both shapes (dropping it is for fine-tuning in train.py only). `entries`: the
    file, if read."""
    classifier_name = get_default_cfg(cfg.model).get("classifier", "classifier")
    net = create_model(cfg.model, num_classes=num_classes, in_channels=cfg.in_channels)
    try:
        entries = checkpoint_entries(net, read_checkpoint(path) if entries is None else entries, path)
        load_state_dict(net, entries, source=path, use_ema=cfg.ema, num_classes_mismatch="error",
                        classifier_name=classifier_name)
    except CheckpointError as exc:
        raise CheckpointError(
            f"{exc} Evaluation needs every parameter from the checkpoint: use the recipe of the run that wrote "
            f"'{path}' (its recipe.yaml) and data with its classes; this one has model {cfg.model} with "
            f"{num_classes} classes."
        ) from None
    level = effective_amp_level(cfg.val_amp_level, ms.get_context("device_target"), "val_amp_level")
    auto_mixed_precision(net, level, cfg.amp_cast_list)
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


def splits_views(cfg, training):
    """True when the recipe's aug_splits turns each training image into several views (MindCV: only in training)."""
    return training and cfg.aug_splits > 0


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
        separate=splits_views(cfg, training),
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
    """This rank's shard of `split`, batched, from `epoch` on (`loader.set_epoch` moves it to another epoch); each
    epoch's order and augmentation depend only on (seed, epoch, rank)."""
    workers = parallel_workers(cfg.num_parallel_workers)
    dataset = create_dataset(
        name=cfg.dataset,
        root=cfg.data_dir,
        split=split,
        shuffle=cfg.shuffle if training else cfg.eval_shuffle,
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
        separate=splits_views(cfg, training),
        aug_splits=cfg.aug_splits,
        seed=cfg.seed,
        epoch=epoch,
    )


def mixing_enabled(cfg):
    """MixUp/CutMix produce smoothed soft targets in the loader; the loss must then not smooth again."""
    return cfg.mixup > 0 or cfg.cutmix > 0


def build_train_loader(cfg, runtime, num_classes):
    """The training split (num_samples of it, when the recipe sets it), at epoch 0 until moved."""
    return build_loader(cfg, runtime, cfg.train_split, True, num_classes, num_samples=cfg.num_samples)


def build_val_loader(cfg, runtime, num_classes, num_samples=None):
    """The validation split, in order, unaugmented: every sample (or the first num_samples) exactly once."""
    return build_loader(cfg, runtime, cfg.val_split, False, num_classes, num_samples=num_samples)


def effective_amp_level(level, device, key="amp_level"):
    """The mixed-precision level a recipe's `key` gets on `device`: float16 levels run on Ascend/GPU; on CPU,
    where MindSpore's float16 kernels are slower than float32, the recipe runs in float32 (O0) with a warning.
    (amp.auto_mixed_precision itself applies any level on any device; the tests run float16 graphs on CPU.)"""
    if level != "O0" and device == "CPU":
        warn_once(f"amp_cpu_{key}", "%s %s: MindSpore's CPU backend runs float16 slower than float32; running in "
                  "float32 (O0) on CPU. The loss scale is kept, which changes nothing in float32.", key, level)
        return "O0"
    return level


# The devices MindSpore's dataset sink (ms.data_sink) runs on.
SINK_DEVICES = ("Ascend", "GPU")


def use_sink(cfg, device):
    """Whether each epoch runs as one dataset sink on the device (Ascend/GPU, no gradient accumulation).

    A sink with a short last batch (drop_remainder False) is refused when the recipe is read (config.checks).
    """
    if not cfg.dataset_sink_mode:
        return False
    if cfg.gradient_accumulation_steps > 1:
        warn_once("sink_accum", "dataset_sink_mode is off with gradient_accumulation_steps > 1 (the step alternates "
                  "between two graphs).")
        return False
    if device not in SINK_DEVICES:
        warn_once("sink_cpu", "dataset_sink_mode runs on Ascend/GPU; on %s batches are fed step by step (same "
                  "results).", device)
        return False
    return True


TrainingParts = collections.namedtuple("TrainingParts", "lr optimizer scaling ema step accumulate_step")


def build_training(cfg, net, updates_per_epoch, runtime):
    """The schedule, optimizer, loss scaling, EMA and compiled step cells for `net`, as the recipe says.

    The benchmark times exactly these cells, so what it measures is what train.py runs.
    """
    lr = create_scheduler(
        updates_per_epoch, scheduler=cfg.scheduler, lr=cfg.lr, min_lr=cfg.min_lr,
        warmup_epochs=cfg.warmup_epochs, warmup_factor=cfg.warmup_factor, decay_epochs=cfg.decay_epochs,
        decay_rate=cfg.decay_rate, milestones=cfg.multi_step_decay_milestones, num_epochs=cfg.epoch_size,
        num_cycles=cfg.num_cycles, cycle_decay=cfg.cycle_decay, lr_epoch_stair=cfg.lr_epoch_stair,
        power=cfg.polynomial_power, warmup_mode=cfg.warmup_mode,
    )
    optimizer = create_optimizer(
        net, opt=cfg.opt, lr=lr, weight_decay=cfg.weight_decay, momentum=cfg.momentum,
        nesterov=cfg.use_nesterov, weight_decay_filter=cfg.weight_decay_filter, eps=cfg.eps,
        layer_decay=cfg.layer_decay,
    )
    loss_fn = create_loss(cfg.loss, reduction=cfg.reduction,
                          label_smoothing=0.0 if mixing_enabled(cfg) else cfg.label_smoothing,
                          num_splits=cfg.aug_splits)
    level = effective_amp_level(cfg.amp_level, runtime.device)
    train_net = auto_mixed_precision(net, level, cfg.amp_cast_list)
    dynamic = cfg.loss_scale_type == "dynamic" or (cfg.loss_scale_type == "auto" and level != "O0")
    scaling = LossScaling(cfg.loss_scale, dynamic=dynamic)
    ema = ema_parameters(net) if cfg.ema else None
    accumulate = cfg.gradient_accumulation_steps
    accumulators = None
    if accumulate > 1:
        accumulators = (ms.ParameterTuple(
            Parameter(ops.zeros_like(p), name="accum." + p.name, requires_grad=False)
            for p in optimizer.parameters), accumulate)
    options = dict(
        skip_overflow=cfg.drop_overflow_update,
        clip_value=cfg.clip_value if cfg.clip_grad else None,
        accumulation=accumulators,
        ema=(ema, cfg.ema_decay, ema_update_counter()) if ema is not None else None,
        reduce_gradients=runtime.group_size > 1,
    )
    net_with_loss = NetWithLoss(train_net, loss_fn)
    step = TrainStep(net_with_loss, optimizer, scaling, **options)
    accumulate_step = (TrainStep(net_with_loss, optimizer, scaling, apply_update=False, **options)
                       if accumulate > 1 else None)
    return TrainingParts(lr, optimizer, scaling, ema, step, accumulate_step)


RunParts = collections.namedtuple(
    "RunParts", "net training eval_net evaluator train_loader val_loader steps_per_epoch updates_per_epoch accumulate "
                "sink")


def build_run(cfg, runtime, num_classes, initial_weights=""):
    """Everything a training run is made of, built from the recipe before its first step.

    initial_weights: the checkpoint the network starts from ('' = pretrained or random; None = none at all, as a
    resumed run restores its own). A new classifier on those weights at a from-scratch lr is warned about
    (optim.fine_tune_lr). The loaders are the run's only ones: the trainer moves the training loader from
    epoch to epoch and iterates the validation loader (None without val_while_train) at every validation.
    """
    train_loader = build_train_loader(cfg, runtime, num_classes)
    val_loader = build_val_loader(cfg, runtime, num_classes) if cfg.val_while_train else None
    batches = train_loader.get_dataset_size()
    accumulate = cfg.gradient_accumulation_steps
    if batches < accumulate:
        raise InvalidInputError(
            f"each epoch has only {batches} batch(es) per device but gradient_accumulation_steps is "
            f"{accumulate}; lower it or batch_size, or add data"
        )
    steps_per_epoch = batches - batches % accumulate
    updates_per_epoch = steps_per_epoch // accumulate
    net = build_network(cfg, num_classes, checkpoint_path=initial_weights or "",
                        load_weights=initial_weights is not None)
    if net.replaced_classifier:
        advice = large_fine_tune_lr_warning(cfg.opt, cfg.lr, cfg.batch_size * runtime.group_size * accumulate,
                                            cfg.layer_decay)
        if advice:
            _logger.warning("%s", advice)
    training = build_training(cfg, net, updates_per_epoch, runtime)
    # The EMA, or a val_amp_level other than the training's, is evaluated in a network of its own (the trainer
    # copies the weights in before each validation), so the trained weights and their precision stay untouched.
    eval_level = effective_amp_level(cfg.val_amp_level, runtime.device, "val_amp_level")
    eval_net = net
    if training.ema is not None or eval_level != effective_amp_level(cfg.amp_level, runtime.device):
        eval_net = auto_mixed_precision(build_network(cfg, num_classes, load_weights=False), eval_level,
                                        cfg.amp_cast_list)
    evaluator = Evaluator(eval_net, num_classes) if cfg.val_while_train else None
    return RunParts(net, training, eval_net, evaluator, train_loader, val_loader, steps_per_epoch, updates_per_epoch,
                    accumulate, use_sink(cfg, runtime.device))
