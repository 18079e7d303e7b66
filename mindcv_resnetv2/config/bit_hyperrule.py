"""BiT-HyperRule (Kolesnikov et al., "Big Transfer", 2020): fine-tuning settings derived from the training set.

Numbers from the authors' implementation, `bit_hyperrule.py` and `bit_pytorch/train.py` of
github.com/google-research/big_transfer (which its README says reproduces the paper's BiT-HyperRule):

* schedule, in optimizer steps, by training-set size N: N < 20,000: 500 steps, linear warm-up over the first
  100, lr x0.1 at steps 200, 300 and 400; N < 500,000: 10,000 steps, warm-up 500, x0.1 at 3,000, 6,000, 9,000;
  otherwise 20,000 steps, warm-up 500, x0.1 at 6,000, 12,000, 18,000;
* MixUp with alpha 0.1 when N >= 20,000, none below;
* resolution by the images' area: below 96 x 96 pixels, resize to 160 x 160 and random-crop 128 x 128;
  otherwise resize to 512 x 512 and random-crop 480 x 480; evaluation resizes to the crop size; random
  horizontal flips in training;
* SGD momentum 0.9, lr 0.003 at batch 512, no weight decay (these are in configs/resnetv2/bit_finetune.yaml).

The rule counts optimizer updates, each of BiT's global batch (512 images over all devices; gradient
accumulation, BiT's `--batch_split`, splits it without changing the count). Our training loop counts in epochs, so
the steps become whole epochs of the run's own updates: epochs = round(steps / updates_per_epoch), at least 1,
where an update takes batch_size x devices x gradient_accumulation_steps images, counted as the trainer counts
them; the logged summary states the numbers that result.

The learning rate is not scaled with the batch: BiT's code uses its base lr (0.003) whatever `--batch` is, and its
README lowers it by hand for smaller batches (0.001 at batch 128); the recipe's lr is used as given.
"""
import logging
import math

from ..utils.launcher import launcher_worker_count

_logger = logging.getLogger("mindcv_resnetv2")

SMALL_DATASET = 20_000
LARGE_DATASET = 500_000
# (warm-up end, decay steps..., total steps) by dataset size, as bit_hyperrule.get_schedule.
SCHEDULES = ((SMALL_DATASET, (100, 200, 300, 400, 500)),
             (LARGE_DATASET, (500, 3000, 6000, 9000, 10_000)),
             (math.inf, (500, 6000, 12_000, 18_000, 20_000)))
MIXUP_ALPHA = 0.1
SMALL_IMAGE_AREA = 96 * 96
SMALL_RESOLUTION = (160, 128)  # (resize, crop)
LARGE_RESOLUTION = (512, 480)
DECAY_FACTOR = 0.1


def hyperrule(dataset_size, image_height, image_width):
    """The rule's settings in its own units: steps, MixUp alpha, (resize, crop) side in pixels."""
    for limit, schedule in SCHEDULES:
        if dataset_size < limit:
            break
    warmup, *decays, total = schedule
    resize, crop = SMALL_RESOLUTION if image_height * image_width < SMALL_IMAGE_AREA else LARGE_RESOLUTION
    return dict(warmup_steps=warmup, decay_steps=tuple(decays), total_steps=total,
                mixup=0.0 if dataset_size < SMALL_DATASET else MIXUP_ALPHA, resize=resize, crop=crop)


def recipe_values(rule, steps_per_epoch, milestones_from_warmup_end):
    """Recipe keys that realise `rule` with `steps_per_epoch` optimizer updates per epoch.

    milestones_from_warmup_end: whether this package's multi_step_decay counts its milestones from the end of
    warm-up (MindCV's meaning) or from the start of training.
    """
    def epochs(steps):
        return max(int(round(steps / steps_per_epoch)), 1)

    total = epochs(rule["total_steps"])
    warmup = min(int(round(rule["warmup_steps"] / steps_per_epoch)), total - 1)
    offset = warmup if milestones_from_warmup_end else 0
    milestones = sorted({max(epochs(step) - offset, 1) for step in rule["decay_steps"]})
    area = round((rule["crop"] / rule["resize"]) ** 2, 8)
    return dict(
        scheduler="multi_step_decay", warmup_epochs=warmup, warmup_factor=0.0, warmup_mode="linear",
        multi_step_decay_milestones=milestones, decay_rate=DECAY_FACTOR, epoch_size=total, lr_epoch_stair=False,
        mixup=rule["mixup"], image_resize=rule["crop"],
        # Resize to `resize` then random-crop `crop` = a random square of (crop/resize)^2 of the (square) image.
        scale=[area, area], ratio=[1.0, 1.0], crop_padding=0, crop_pct=1.0, hflip=0.5,
    )


def data_parallel_devices(cfg):
    """Devices of a data-parallel run, known before the runtime starts (msrun's worker count, as
    engine.runtime.setup_runtime reads it); 1 without `distribute`."""
    return launcher_worker_count() if cfg.distribute else 1


def updates_per_epoch(size, batch_size, devices, accumulation, drop_remainder):
    """Optimizer updates per epoch as the trainer makes them: each device reads size // devices images (the training
    shards are equal, data.sharding), in batches of batch_size, and updates once per `accumulation` batches."""
    per_device = size // devices
    batches = per_device // batch_size if drop_remainder else -(-per_device // batch_size)
    return max(batches // accumulation, 1)


def milestones_count_from_warmup_end():
    """Whether optim.create_scheduler counts multi_step_decay milestones from the end of warm-up (MindCV) or
    from the start: asked of the scheduler itself with a 3-epoch probe, so the rule's decay steps stay right."""
    from ..optim import create_scheduler

    rates = create_scheduler(1, scheduler="multi_step_decay", lr=1.0, min_lr=0.0, warmup_epochs=1,
                             decay_rate=0.5, milestones=[1], num_epochs=3)
    return float(rates[1]) == 1.0


def training_set_facts(cfg):
    """(number of training images, height, width of the first one) of the recipe's training split."""
    from ..data import create_dataset

    # The generated dataset needs a class count; any one gives it its training size.
    dataset = create_dataset(cfg.dataset, cfg.data_dir, cfg.train_split, shuffle=False, is_training=True,
                             num_samples=cfg.num_samples, in_channels=cfg.in_channels, image_size=cfg.image_resize,
                             num_classes=cfg.num_classes or 10)
    image = next(dataset.create_dict_iterator(output_numpy=True, num_epochs=1))["image"]
    if image.ndim == 1:  # encoded file bytes of an image folder
        import io

        from PIL import Image

        width, height = Image.open(io.BytesIO(image.tobytes())).size
    else:
        height, width = (image.shape[:2] if image.shape[-1] in (1, 3) or image.ndim == 2 else image.shape[-2:])
    return dataset.get_dataset_size(), int(height), int(width)


def apply_bit_hyperrule(cfg, explicit_keys=()):
    """Set the rule's keys on `cfg` from its training split (keys in `explicit_keys` keep their value)."""
    from .schema import ConfigError

    try:
        size, height, width = training_set_facts(cfg)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"bit_hyperrule derives the schedule from the training set, which cannot be read ({cfg.dataset} at "
            f"data_dir {cfg.data_dir!r}, split {cfg.train_split!r}): {exc}"
        ) from exc
    rule = hyperrule(size, height, width)
    devices, accumulation = data_parallel_devices(cfg), cfg.gradient_accumulation_steps
    updates = updates_per_epoch(size, cfg.batch_size, devices, accumulation, cfg.drop_remainder)
    values = recipe_values(rule, updates, milestones_count_from_warmup_end())
    kept = sorted(k for k in values if k in explicit_keys)
    for key, value in values.items():
        if key not in explicit_keys:
            setattr(cfg, key, value)
    _logger.info(
        "BiT-HyperRule for %d training images of %dx%d: %d optimizer updates (warm-up %d, lr x%g at %s), MixUp %s, "
        "resize %d then crop %d; at %d images per update (batch %d x %d devices x %d accumulation step(s)), %d "
        "updates per epoch: %d epochs, warm-up %d, milestones %s; lr %g as given (BiT's 0.003 is for 512 images per "
        "update and is not scaled)%s",
        size, height, width, rule["total_steps"], rule["warmup_steps"], DECAY_FACTOR, list(rule["decay_steps"]),
        rule["mixup"] or "off", rule["resize"], rule["crop"], cfg.batch_size * devices * accumulation,
        cfg.batch_size, devices, accumulation, updates, cfg.epoch_size, cfg.warmup_epochs,
        cfg.multi_step_decay_milestones, cfg.lr, f"; kept from the command line: {', '.join(kept)}" if kept else "",
    )
    return cfg

