"""The training step fed by the full data pipeline (generated JPEG ImageFolder, recipe transforms, N workers),
so its img/s can be compared with the fixed-batch figure: the loader must not be what limits training."""
import copy
import math
import tempfile

import mindspore as ms

from ..engine.builders import build_loader
from .image_folder import empty_check_cache, make_image_folder
from .measure import interleaved, median, time_calls, warm_up

# ImageNet-like source images: the decode and random-resized-crop cost of real photos.
SOURCE_WIDTH, SOURCE_HEIGHT = 500, 375


def pipeline_config(cfg, root, workers):
    """`cfg` reading the generated ImageFolder at `root` with `workers` pipeline workers, augmentation unchanged."""
    fed = copy.copy(cfg)
    fed.dataset, fed.data_dir, fed.train_split = "imagenet", root, "train"
    fed.num_parallel_workers, fed.num_samples, fed.drop_remainder = workers, None, True
    return fed


def pipeline_rates(cfg, runtime, step, fixed_inputs, num_classes, steps, warmup, workers=2):
    """{'fixed batch', 'sink off', 'sink on'}: ms/step and img/s of `step` on `fixed_inputs` and fed by the pipeline.

    Fixed-batch and pipeline-fed steps alternate, so both see the same machine load; the pipeline's workers
    prefetch during both, so the ratio shows whether the step waits for data. Sink mode is measured where the
    trainer uses it (Ascend/GPU); on CPU the trainer feeds step by step ('sink on' is None).
    """
    batches = warmup + steps
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_images_") as root, empty_check_cache():  # no cache left behind
        make_image_folder(root, batches * cfg.batch_size, SOURCE_WIDTH, SOURCE_HEIGHT)
        loader = build_loader(pipeline_config(cfg, root, workers), runtime, "train", True, num_classes)
        iterator = loader.create_tuple_iterator()

        def fed():
            return step(*next(iterator))

        warm_up(fed, warmup)
        fixed_times, fed_times = interleaved([lambda: step(*fixed_inputs), fed], steps)
        results["fixed batch"] = _rate(fixed_times, cfg.batch_size)
        results["sink off"] = _rate(fed_times, cfg.batch_size)
        results["sink on"] = None
        if runtime.device != "CPU":
            loader = build_loader(pipeline_config(cfg, root, workers), runtime, "train", True, num_classes)
            with loader.seeded():
                sunk = ms.data_sink(step, loader.dataset, sink_size=1)
                _, times = time_calls(sunk, steps, warmup)
            results["sink on"] = _rate(times, cfg.batch_size)
    return results


def _rate(times, batch_size):
    """Per-step median, and img/s over the whole timed span (waits for data included)."""
    return {"ms_per_step": 1000.0 * median(times), "img_per_s": batch_size * len(times) / math.fsum(times)}
