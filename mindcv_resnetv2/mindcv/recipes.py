"""Can MindCV 0.3.0's own train.py and validate.py read a recipe?

MindCV's config.py raises KeyError for a recipe key its parser lacks; values from a YAML file are not checked
against its parser's choices (only command-line values are), so what decides a value is whether MindCV's
factories know it. A recipe is compatible when every key is one of MindCV 0.3.0's and every optimizer, schedule
and dataset name is one its factories build. Of the keys MindCV lacks, our own are those the schema marks
"(new)"; the others are spellings of other MindCV releases that this project also reads.
"""
from ..config.schema import KEY_BY_NAME

MINDCV_VERSION = "0.3.0"
NEW_MARK = "(new)"

# Every option of MindCV 0.3.0's config.py (git tag v0.3.0 of mindspore-lab/mindcv).
MINDCV_KEYS = frozenset("""
    amp_cast_list amp_level aug_repeats aug_splits auto_augment aux_factor batch_size ckpt_path ckpt_save_dir
    ckpt_save_interval ckpt_save_policy clip_grad clip_value color_jitter crop_pct cutmix cutmix_prob cycle_decay
    data_dir dataset dataset_download dataset_sink_mode decay_epochs decay_rate distribute drop_overflow_update
    drop_path_rate drop_rate drop_remainder ema ema_decay epoch_size eps gradient_accumulation_steps hflip
    image_resize in_channels interpolation keep_checkpoint_max label_smoothing layer_decay log_interval loss
    loss_scale loss_scale_type lr lr_epoch_stair mean min_lr mixup mode model momentum multi_step_decay_milestones
    num_classes num_cycles num_parallel_workers num_samples opt pretrained ratio re_max_attempts re_prob re_ratio
    re_scale re_value reduction resume_opt scale scheduler seed shuffle std train_split use_nesterov val_amp_level
    val_interval val_split val_while_train vflip warmup_epochs warmup_factor weight_decay weight_decay_filter
""".split())

# Where MindCV 0.3.0 accepts fewer values than our schema: the names its create_optimizer and create_scheduler
# build, and the datasets its create_dataset reads itself or as an ImageFolder under the same meaning (imagenet,
# imagefolder; it reads any other name, fashion_mnist and synthetic too, as an ImageFolder).
MINDCV_VALUES = {
    "opt": ("sgd", "momentum", "nesterov", "adam", "adamw", "lion", "nadam", "adan", "rmsprop", "adagrad", "lamb"),
    "scheduler": ("constant", "cosine_decay", "warmup_cosine_decay", "exponential_decay", "polynomial_decay",
                  "step_decay", "multi_step_decay", "one_cycle", "cyclic"),
    "dataset": ("imagenet", "imagefolder", "mnist", "cifar10", "cifar100"),
}


def is_our_key(name):
    """True for a key this project adds (marked "(new)" in the schema)."""
    return KEY_BY_NAME[name].help.startswith(NEW_MARK)


def mindcv_incompatibilities(values):
    """[(key, reason)] for every recipe entry MindCV 0.3.0's config.py would reject; [] when it reads them all.

    `values` are a recipe's checked values (config.load_recipe), so every key is one of our schema's.
    """
    problems = []
    for name, value in values.items():
        if name not in MINDCV_KEYS:
            if is_our_key(name):
                reason = f"ours (new): {KEY_BY_NAME[name].help.removeprefix(NEW_MARK).strip().split('. ')[0]}"
            else:
                reason = f"a key of other MindCV releases, not in MindCV {MINDCV_VERSION}'s config.py"
            problems.append((name, reason))
        elif name in MINDCV_VALUES and value not in MINDCV_VALUES[name]:
            accepted = ", ".join(MINDCV_VALUES[name])
            problems.append((name, f"value {value!r} is ours; MindCV {MINDCV_VERSION}'s factories know {accepted}"))
    return problems
