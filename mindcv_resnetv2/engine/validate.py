"""`validate(cfg)`: top-1, top-5, loss and per-class accuracy of a checkpoint over a whole split, on one device or
under msrun; the confusion matrix files go where `confusion_folder` says."""
import json
import logging
import os

from ..models import get_default_cfg
from ..utils.files import check_new_output, check_writable_target, write_text_atomic
from ..utils.launcher import launched_by_msrun
from . import per_class
from .builders import build_evaluation_network, build_val_loader, resolve_classes, weights_path
from .evaluation import Evaluator
from .run_state import RECIPE_FILE, is_run_folder
from .runtime import setup_logging, setup_runtime

_logger = logging.getLogger("mindcv_resnetv2")


def validate(cfg, json_path=None):
    """Evaluate cfg.ckpt_path (or the registry's pretrained weights) on cfg.val_split; returns the metrics dict.

    A recipe with distribute: True (MindCV's) evaluates on one device when msrun did not launch the process, and
    data-parallel when it did; the numbers are the same either way.
    """
    if json_path:
        check_writable_target(json_path)  # before an evaluation that may take an hour, not after it
    folder = confusion_folder(cfg)
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
    class_names, num_classes = resolve_classes(cfg, cfg.val_split)
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
        title = f"{os.path.basename(cfg.ckpt_path) if cfg.ckpt_path else cfg.model} on {cfg.val_split}"
        rows, written = per_class.report(result, class_names, folder, title, plot=cfg.plot)
        if folder is None and rows:
            _logger.info("Confusion matrix files not written: they go beside a checkpoint only in a training run "
                         "folder (holding %s) this process may write; pass --confusion_matrix_dir DIR.", RECIPE_FILE)
        if json_path:
            saved = {key: value for key, value in result.items() if key != "confusion"}
            saved.update(per_class=rows, confusion_matrix=written.get(per_class.CONFUSION_CSV))
            write_text_atomic(json_path, json.dumps(saved, indent=2), what="metrics file")
    return result


def confusion_folder(cfg):
    """The folder of validate.py's per-class files, checked before the evaluation; None: they are not written.

    confusion_matrix_dir when set; existing files there are replaced only in a training run folder (its own
    outputs) or with --overwrite True. Unset: the checkpoint's folder if it is a run folder this process may write.
    """
    if cfg.confusion_matrix_dir:
        folder = cfg.confusion_matrix_dir
        for name in per_class.output_files(cfg.plot):
            check_new_output(os.path.join(folder, name), overwrite=cfg.overwrite or is_run_folder(folder))
        return folder
    folder = os.path.dirname(os.path.abspath(cfg.ckpt_path)) if cfg.ckpt_path else None
    return folder if folder and is_run_folder(folder) and os.access(folder, os.W_OK) else None
