"""`validate(cfg)`: top-1, top-5 and loss of a checkpoint over a whole split, on one device or under msrun."""
import json
import logging
import os

from ..models import get_default_cfg
from .builders import build_loader, build_network, resolve_classes
from .evaluation import Evaluator
from .runtime import setup_logging, setup_runtime

_logger = logging.getLogger("mindcv_resnetv2")


class MissingWeightsError(ValueError):
    """validate.py was given no weights to evaluate."""


def validate(cfg, json_path=None):
    """Evaluate cfg.ckpt_path (or the registry's pretrained weights) on cfg.val_split; returns the metrics dict."""
    runtime = setup_runtime(cfg)
    setup_logging(console=runtime.is_main)
    if not cfg.ckpt_path and not cfg.pretrained:
        raise MissingWeightsError(
            "no weights to validate: pass --ckpt_path path/to/model.ckpt (or --pretrained True for the registry's "
            f"weights of {cfg.model}). A randomly initialised network would only measure chance."
        )
    if cfg.ckpt_path and not os.path.isfile(cfg.ckpt_path):
        raise FileNotFoundError(f"ckpt_path '{cfg.ckpt_path}' does not exist; give the checkpoint file to validate")
    get_default_cfg(cfg.model)  # unknown model names fail here, before any data is read
    _, num_classes = resolve_classes(cfg, cfg.val_split)
    net = build_network(cfg, num_classes, checkpoint_path=cfg.ckpt_path, use_ema=cfg.ema)
    loader = build_loader(cfg, runtime, cfg.val_split, False, num_classes, num_samples=cfg.num_samples)
    result = Evaluator(net, num_classes)(loader, runtime)
    result.update(model=cfg.model, checkpoint=cfg.ckpt_path, split=cfg.val_split, ema=bool(cfg.ema))
    if runtime.is_main:
        _logger.info(
            "%s on %s/%s: top-1 %.3f%%, top-5 %.3f%%, loss %.4f over %d images",
            cfg.ckpt_path or cfg.model, cfg.data_dir, cfg.val_split, result["top1"], result["top5"],
            result["loss"], result["num_samples"],
        )
        if json_path:
            with open(json_path, "w") as handle:
                json.dump(result, handle, indent=2)
    return result
