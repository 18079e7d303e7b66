"""`validate(cfg)`: top-1, top-5 and loss of a checkpoint over a whole split, on one device or under msrun."""
import json
import logging

from ..models import get_default_cfg
from .builders import build_loader, build_network, resolve_classes, weights_path
from .evaluation import Evaluator
from .runtime import setup_logging, setup_runtime

_logger = logging.getLogger("mindcv_resnetv2")


def validate(cfg, json_path=None):
    """Evaluate cfg.ckpt_path (or the registry's pretrained weights) on cfg.val_split; returns the metrics dict."""
    runtime = setup_runtime(cfg)
    setup_logging(console=runtime.is_main)
    get_default_cfg(cfg.model)  # unknown model names fail here, before any data is read
    weights = weights_path(cfg)
    _, num_classes = resolve_classes(cfg, cfg.val_split)
    net = build_network(cfg, num_classes, checkpoint_path=weights, use_ema=cfg.ema)
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
