"""train.py's epoch loop against the step it runs: train.py's "img/s" is a whole Trainer epoch (the recipe's data
pipeline, device reads at log_interval, progress lines); alternating each epoch with as many steps of the same
compiled step on a fixed batch shows, under the same load, what the loop costs beyond the step itself."""
import copy
import math
import tempfile
import time

from ..engine.runtime import logging_restored
from ..engine.trainer import Trainer
from .measure import median, paired_ratio, time_repeated, warm_up
from .steps import fixed_batch


def train_loop_rates(cfg, epochs):
    """{'train.py epoch', 'fixed batch', 'loop_to_fixed'}: img/s of `epochs` Trainer epochs of `cfg` (after one
    untimed epoch, which compiles) and of the fixed-batch steps alternating with them; the ratio is the median of
    per-round ratios. The run writes nothing but its log, into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench_train_loop_") as folder:
        run = copy.copy(cfg)
        run.ckpt_save_dir, run.resume, run.tensorboard_dir = folder, "", ""
        run.epoch_size = 2 * (epochs + 1)  # the schedule must last: the fixed-batch steps are updates too
        with logging_restored():
            trainer = Trainer(run)
            try:
                loop_times, fixed_times = _alternate(trainer, epochs)
            finally:
                trainer.release()
        images_per_epoch = trainer.steps_per_epoch * trainer.global_batch
    return {
        "train.py epoch": _rate(loop_times, images_per_epoch, trainer.steps_per_epoch),
        "fixed batch": _rate(fixed_times, images_per_epoch, trainer.steps_per_epoch),
        "loop_to_fixed": paired_ratio(fixed_times, loop_times),
    }


def _alternate(trainer, epochs):
    """Seconds of each timed epoch, and of each epoch's worth of fixed-batch steps run right after it."""
    cfg = trainer.cfg
    images, labels = fixed_batch(cfg.batch_size, cfg.in_channels, cfg.image_resize, trainer.num_classes, cfg.seed)

    def fixed():
        return trainer.step(images, labels)

    trainer.train_epoch(0)
    warm_up(fixed)
    loop_times, fixed_times = [], []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        trainer.train_epoch(epoch)
        loop_times.append(time.perf_counter() - start)
        fixed_times.append(math.fsum(time_repeated(fixed, trainer.steps_per_epoch)))
    return loop_times, fixed_times


def _rate(epoch_times, images_per_epoch, steps_per_epoch):
    seconds = median(epoch_times)
    return {"ms_per_step": 1000.0 * seconds / steps_per_epoch, "img_per_s": images_per_epoch / seconds,
            "epoch_times_s": list(epoch_times)}
