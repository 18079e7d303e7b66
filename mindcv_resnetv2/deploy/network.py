"""The trained network of a recipe and checkpoint, ready for inference, on one device.

Shared by infer and export. The class count comes from the recipe or, when the recipe leaves num_classes
null, from the checkpoint's classifier, so no dataset is needed; the load is strict and never re-initialises
the classifier (a class-count mismatch is an error here, not fine-tuning).
"""
import logging

from ..checkpoint import EMA_PREFIX, read_checkpoint
from ..engine.builders import build_evaluation_network, weights_path
from ..engine.runtime import setup_logging, setup_runtime
from ..errors import InvalidInputError
from ..models import get_default_cfg

_logger = logging.getLogger(__name__)


def setup_single_device(cfg):
    """MindSpore's context for one process on one device; a recipe written for msrun still runs here."""
    if cfg.distribute:
        _logger.info("distribute is ignored: inference and export run in this one process")
        cfg.distribute = False
    runtime = setup_runtime(cfg)
    setup_logging()
    return runtime


def _classifier_rows(entries, classifier_name, use_ema):
    weight = entries.get(f"{EMA_PREFIX if use_ema else ''}{classifier_name}.weight")
    return None if weight is None or isinstance(weight, str) else int(weight.shape[0])


def load_trained_network(cfg):
    """(network in eval mode with the checkpoint's weights, num_classes, checkpoint path)."""
    path = weights_path(cfg)
    classifier_name = get_default_cfg(cfg.model).get("classifier", "classifier")
    entries = read_checkpoint(path)
    num_classes = cfg.num_classes or _classifier_rows(entries, classifier_name, cfg.ema)
    if not num_classes:
        raise InvalidInputError(
            f"checkpoint '{path}' has no '{classifier_name}.weight' to read the class count from; "
            "set --num_classes to the number of classes the model was trained on"
        )
    return build_evaluation_network(cfg, num_classes, path, entries), num_classes, path
