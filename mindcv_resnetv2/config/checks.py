"""Contradictions between keys that are each valid alone: errors for settings that cannot work, warnings
for settings that run but probably do not do what the user meant. Every message says what to change."""
import logging
import os

from ..amp import parse_cast_list
from ..data.auto_augment import VIEW_POLICIES
from ..errors import InvalidInputError
from ..optim.optimizer import OPTIMIZERS_READING
from ..optim.scheduler import min_lr_problem, schedule_overrun
from .schema import KEY_BY_NAME, KEYS, REFUSED, ConfigError

_logger = logging.getLogger(__name__)

# Entry points that train; the others (validate, infer, export, bench) only read weights and data.
TRAINING_ENTRIES = ("train",)
ENTRIES = ("train", "validate", "infer", "export", "bench")


def check_config(cfg, entry="train"):
    """Raise ConfigError listing every contradiction in `cfg`; log a warning for each doubtful setting."""
    if entry not in ENTRIES:
        raise ValueError(f"unknown entry {entry!r}; expected one of {', '.join(ENTRIES)}")
    errors, warnings = [], []
    _check_files(cfg, entry, errors, warnings)
    _check_data(cfg, errors, warnings)
    _check_precision(cfg, errors)
    if entry in TRAINING_ENTRIES:
        _check_training(cfg, errors, warnings)
    _check_compatibility_keys(cfg, errors)
    for message in warnings:
        _logger.warning(message)
    if errors:
        raise ConfigError("; ".join(errors))
    return cfg


def _check_files(cfg, entry, errors, warnings):
    if cfg.ckpt_path and not os.path.isfile(cfg.ckpt_path):
        errors.append(f"ckpt_path {cfg.ckpt_path!r} is not a file; give an existing checkpoint or leave ckpt_path empty")
    if entry not in TRAINING_ENTRIES:
        return
    if cfg.resume not in ("", "auto") and not os.path.isfile(cfg.resume):
        errors.append(
            f"resume {cfg.resume!r} is not a file; give an existing checkpoint, or resume: auto to continue from "
            f"the latest checkpoint in ckpt_save_dir"
        )
    if cfg.resume and cfg.ckpt_path:
        warnings.append("ckpt_path is not used when resuming (resume restores the weights); drop one of them")
    if cfg.pretrained and cfg.ckpt_path:
        warnings.append("ckpt_path replaces the pretrained weights; set pretrained: False or drop ckpt_path")


def _check_data(cfg, errors, warnings):
    if len(cfg.mean) != len(cfg.std):
        errors.append(f"mean has {len(cfg.mean)} values but std has {len(cfg.std)}; give one of each per channel")
    elif len(cfg.mean) not in (1, cfg.in_channels):
        errors.append(
            f"mean and std have {len(cfg.mean)} values but in_channels is {cfg.in_channels}; give one per channel"
        )
    if isinstance(cfg.re_value, list) and len(cfg.re_value) not in (1, cfg.in_channels):
        errors.append(f"re_value has {len(cfg.re_value)} values but in_channels is {cfg.in_channels}")


def _check_precision(cfg, errors):
    try:
        parse_cast_list(cfg.amp_cast_list)
    except InvalidInputError as error:
        errors.append(str(error))


def _check_training(cfg, errors, warnings):
    if cfg.dataset_sink_mode and not cfg.drop_remainder:
        # A sink runs one compiled graph over batches of one shape; refused on every device, so a recipe means the
        # same on CPU (which feeds step by step) as on Ascend.
        errors.append(
            "dataset_sink_mode: True needs drop_remainder: True (a sink runs one graph over batches of one shape; "
            "a short last batch would recompile it every epoch). Set drop_remainder: True, or dataset_sink_mode: "
            "False to feed batches step by step."
        )
    if cfg.ckpt_save_policy == "top_k" and not cfg.val_while_train:
        errors.append(
            "ckpt_save_policy top_k keeps the checkpoints with the best validation accuracy, so it needs "
            "val_while_train: True; set it, or use ckpt_save_policy: latest_k"
        )
    problem = min_lr_problem(cfg.lr, cfg.min_lr)
    if problem:
        errors.append(problem)
    _check_optimizer(cfg, errors, warnings)
    _check_freezing(cfg, errors, warnings)
    _check_aug_splits(cfg, errors)
    _check_schedule_length(cfg, warnings)
    if cfg.cutmix_prob != 1.0 and cfg.mixup == 0 and cfg.cutmix == 0:
        warnings.append("cutmix_prob has no effect while mixup and cutmix are 0; set mixup or cutmix > 0")
    if cfg.val_while_train and cfg.val_interval > cfg.epoch_size:
        warnings.append(
            f"val_interval {cfg.val_interval} is longer than epoch_size {cfg.epoch_size}, so no validation runs; "
            f"lower val_interval"
        )


def _check_freezing(cfg, errors, warnings):
    if cfg.freeze_backbone and cfg.freeze_stages:
        errors.append(f"freeze_backbone already freezes every stage; freeze_stages {cfg.freeze_stages} beside it "
                      f"would mean less: set freeze_stages: 0, or freeze_backbone: False")
    if (cfg.freeze_backbone or cfg.freeze_stages) and not (cfg.ckpt_path or cfg.pretrained or cfg.resume):
        warnings.append("freeze_backbone / freeze_stages without ckpt_path, pretrained or resume freezes randomly "
                        "initialised layers; give the weights to fine-tune with --ckpt_path")


def _check_aug_splits(cfg, errors):
    """aug_splits as MindCV's train.py requires it (with an auto_augment policy), and views that can differ."""
    splits, policy = cfg.aug_splits, cfg.auto_augment
    if splits == 1:
        errors.append("aug_splits 1 would be the clean view alone; use 0 (off), or 2 or more views (MindCV: 3)")
    elif splits >= 2 and not policy:
        errors.append(f"aug_splits {splits} needs an auto_augment policy for its augmented views (MindCV's train.py "
                      f"requires one too); set auto_augment (e.g. augmix-m3-w3), or aug_splits: 0")
    elif splits >= 3 and policy.strip().lower().split("-")[0] not in VIEW_POLICIES:
        errors.append(f"aug_splits {splits} with auto_augment {policy!r}: that policy runs as MindSpore C++ ops, "
                      f"which make the same choices on every copy of an image under the run's seed, so the "
                      f"{splits - 1} augmented views would be identical; use a {' or '.join(VIEW_POLICIES)} policy, "
                      f"or aug_splits: 2 (one augmented view) or 0")
    if cfg.loss == "jsd" and splits < 2:
        errors.append(f"loss jsd compares the views of each image, which needs aug_splits >= 2 (MindCV: 3), got "
                      f"aug_splits {splits}; set aug_splits and auto_augment, or loss: CE")


def _check_optimizer(cfg, errors, warnings):
    """The optimizer keys read as MindCV 0.3.0 reads them (optim.optimizer.OPTIMIZERS_READING)."""
    momentum_nesterov = set(OPTIMIZERS_READING["nesterov"]) & set(OPTIMIZERS_READING["momentum"])
    if cfg.use_nesterov and cfg.opt in momentum_nesterov and cfg.momentum == 0:
        errors.append("Nesterov updates need momentum > 0; set momentum (e.g. 0.9) or use_nesterov: False")
    if cfg.use_nesterov and cfg.opt not in OPTIMIZERS_READING["nesterov"]:
        warnings.append(f"use_nesterov has no effect with opt {cfg.opt}; use opt momentum or nesterov")
    if cfg.opt == "nesterov" and not cfg.use_nesterov:
        warnings.append("opt nesterov without use_nesterov: True is plain momentum SGD, as in MindCV 0.3.0; set "
                        "use_nesterov: True for Nesterov updates")
    if cfg.eps != KEY_BY_NAME["eps"].default and cfg.opt not in OPTIMIZERS_READING["eps"]:
        warnings.append(f"eps has no effect with opt {cfg.opt}: as in MindCV 0.3.0, eps reaches "
                        f"{'/'.join(OPTIMIZERS_READING['eps'])} only and {cfg.opt} keeps its own")
    if cfg.opt == "adan" and cfg.weight_decay > 0:
        warnings.append(f"opt adan applies weight_decay {cfg.weight_decay} (filter {cfg.weight_decay_filter}) here; "
                        f"MindCV 0.3.0's create_optimizer loses adan's weight decay (with weight_decay_filter "
                        f"auto it decays every parameter), so a MindCV run of this recipe trained differently")


def _check_schedule_length(cfg, warnings):
    if cfg.warmup_epochs > cfg.epoch_size:
        warnings.append(
            f"warmup_epochs {cfg.warmup_epochs} is longer than epoch_size {cfg.epoch_size}: the run ends during "
            f"warm-up; lower warmup_epochs"
        )
    else:
        overrun = schedule_overrun(cfg.scheduler, cfg.warmup_epochs, cfg.decay_epochs, cfg.epoch_size,
                                   cfg.num_cycles, cfg.polynomial_power)
        if overrun:
            warnings.append(overrun)
    if cfg.scheduler == "multi_step_decay":
        main_epochs = cfg.epoch_size - cfg.warmup_epochs
        late = [m for m in cfg.multi_step_decay_milestones if m >= main_epochs]
        if late:
            warnings.append(
                f"multi_step_decay_milestones {late} count epochs after the {cfg.warmup_epochs} warm-up epochs "
                f"(as in MindCV) and are not before the {main_epochs} epochs that follow, so they never apply"
            )


def _check_compatibility_keys(cfg, errors):
    """MindCV keys that mean nothing here are errors when set (their help says why)."""
    for key in KEYS:
        value = getattr(cfg, key.name)
        if value == key.default:
            continue
        if key.role == REFUSED:
            errors.append(f"{key.name}: {value!r} cannot be used here: {key.help} Leave it at its default "
                          f"({key.default!r})")
