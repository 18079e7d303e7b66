"""`validate(cfg)`: top-1, top-5 and loss of a checkpoint over a whole split, on one device or under msrun."""
import json
import logging

from ..models import get_default_cfg
from ..utils.files import check_writable_target, write_text_atomic
from ..utils.launcher import launched_by_msrun
from .builders import build_evaluation_network, build_val_loader, resolve_classes, weights_path
from .evaluation import Evaluator
from .runtime import setup_logging, setup_runtime

_logger = logging.getLogger("mindcv_resnetv2")


def validate(cfg, json_path=None):
    """Evaluate cfg.ckpt_path (or the registry's pretrained weights) on cfg.val_split; returns the metrics dict.

    A recipe with distribute: True (MindCV's) evaluates on one device when msrun did not launch the process, and
    data-parallel when it did; the numbers are the same either way.
    """
    if json_path:
        check_writable_target(json_path)  # before an evaluation that may take an hour, not after it
    standalone = cfg.distribute and not launched_by_msrun()
    if standalone:
        cfg.distribute = False
    runtime = setup_runtime(cfg)
    setup_logging(console=runtime.is_main)
    if standalone:
        _logger.info("distribute is True but validate.py was not launched by msrun: evaluating on one device (%s). "
                     "Launch it with msrun (scripts/run_distribute_eval.sh) to evaluate data-parallel.", runtime.device)
    get_default_cfg(cfg.model)  # unknown model names fail here, before any data is read
    weights = weights_path(cfg)
    _, num_classes = resolve_classes(cfg, cfg.val_split)
    net = build_evaluation_network(cfg, num_classes, weights)
    loader = build_val_loader(cfg, runtime, num_classes, num_samples=cfg.num_samples)
    result = Evaluator(net, num_classes)(loader, runtime)
    result.update(model=cfg.model, checkpoint=cfg.ckpt_path, split=cfg.val_split, ema=bool(cfg.ema))
    if runtime.is_main:
        _logger.info(
            "%s on %s/%s: top-1 %.3f%%, top-5 %.3f%%, loss %.4f over %d images",
            cfg.ckpt_path or cfg.model, cfg.data_dir, cfg.val_split, result["top1"], result["top5"],
            result["loss"], result["num_samples"],
        )
        if json_path:
            write_text_atomic(json_path, json.dumps(result, indent=2), what="metrics file")
    return result
