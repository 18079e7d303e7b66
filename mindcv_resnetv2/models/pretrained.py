"""Initial weights of a network: a registered model's published weights, found in a local cache or downloaded
into one on first use and verified before use, and checkpoint files; both loaded strictly, with a new classifier
for another class count and an adapted first convolution for another channel count (fine-tuning).

Caches, in lookup order: `$MINDCV_RESNETV2_HOME`, then MindCV's own download folder `~/.mindspore/models`, so a
file MindCV fetched is found and a file fetched here is found by MindCV. Downloads go to the first of them.
"""
import logging
import os

from mindspore.common import initializer as init

from ..checkpoint import hash_in_name, load_state_dict, read_checkpoint
from ..errors import InvalidInputError
from ..utils.download import TIMEOUT_SECONDS, digest_matches, download_file
from ..utils.files import file_digest
from .registry import get_default_cfg, list_models

_logger = logging.getLogger(__name__)

WEIGHTS_DIR_ENV = "MINDCV_RESNETV2_HOME"
MINDCV_CACHE_DIR = os.path.join("~", ".mindspore", "models")


class PretrainedWeightsError(InvalidInputError):
    """Published weights cannot be used: no digest to verify them by, or a cached file that fails its digest."""


def cache_dirs():
    """The folders searched for weights, in order; the first one receives downloads."""
    dirs = [os.environ[WEIGHTS_DIR_ENV]] if os.environ.get(WEIGHTS_DIR_ENV) else []
    return dirs + [os.path.expanduser(MINDCV_CACHE_DIR)]


def expected_sha256(url, sha256=None):
    """The registry's full sha256, else the 8-hex prefix in a MindCV-style file name (resnetv2_50-3c2f143b.ckpt)."""
    if sha256:
        return sha256
    prefix = hash_in_name(url.rsplit("/", 1)[-1])
    if not prefix:
        raise PretrainedWeightsError(
            f"{url} has no sha256 in the registry and no hash in its file name, so it could not be verified: "
            "add its sha256 to the model's default_cfgs entry"
        )
    return prefix


def weights_file(url, sha256=None, timeout=TIMEOUT_SECONDS):
    """The verified local file of the weights published at `url`: from a cache, else downloaded into the first."""
    expected = expected_sha256(url, sha256)
    filename = url.rsplit("/", 1)[-1]
    candidates = [os.path.join(folder, filename) for folder in cache_dirs()]
    for path in candidates:
        if os.path.isfile(path):
            if not digest_matches(path, expected, "sha256"):
                raise PretrainedWeightsError(
                    f"cached weights '{path}' have sha256 {file_digest(path)}, expected {expected}...: the file is "
                    f"damaged or not the one published at {url}; delete it to download it again"
                )
            return path
    hint = (
        f"Without network access, fetch it elsewhere and put it at {' or '.join(candidates)} "
        f"(or set {WEIGHTS_DIR_ENV}), or pass the file with checkpoint_path / --ckpt_path."
    )
    return download_file(url, candidates[0], expected, "sha256", timeout, offline_hint=hint)


def pretrained_weights_path(model_name):
    """The verified local file of a model's published weights, downloaded into the cache on first use."""
    cfg = get_default_cfg(model_name)
    if not cfg.get("url"):
        raise InvalidInputError(
            f"Model '{model_name}' has no published weights. Models with weights: {', '.join(list_models(pretrained=True))}."
        )
    return weights_file(cfg["url"], cfg.get("sha256"))


def fine_tuning_names(net):
    """The classifier and first convolution of `net` (its default_cfg), as load_state_dict takes them to fit a
    checkpoint of another class count (new head) or input channel count (adapted stem)."""
    cfg = getattr(net, "default_cfg", {})
    return dict(classifier_name=cfg.get("classifier", "classifier"), first_conv=cfg.get("first_conv", "conv1"))


def checkpoint_entries(net, entries, source):
    """Checkpoint `entries` under `net`'s parameter names: a network that reads another naming of its weights maps
    them (ResNetV2.checkpoint_entries: MindCV's BiT names into timm's BiT nets); other entries are unchanged."""
    rename = getattr(net, "checkpoint_entries", None)
    return rename(entries, source) if rename else entries


def load_pretrained(net, model_name):
    """Load the published weights of `model_name` into `net`: a new classifier if `net` has another class count,
    the first convolution adapted if it has 1 input channel (weights: 3) or N (weights: 1); see
    checkpoint.adapt_first_conv. Other channel counts fail on the shape, naming the parameter.
    Returns the names of the dropped classifier entries ([] when the head was loaded).
    """
    path = pretrained_weights_path(model_name)
    entries = read_checkpoint(path, verify_hash=False)  # weights_file verified the download or the cached copy
    return load_state_dict(net, entries, source=path, **fine_tuning_names(net))


def load_checkpoint_file(net, path, use_ema=False):
    """Load the checkpoint at `path` (its EMA weights with `use_ema`) into `net`, adapted as load_pretrained does
    and under `net`'s names (checkpoint_entries). Returns the names of the dropped classifier entries."""
    source = os.fspath(path)
    entries = checkpoint_entries(net, read_checkpoint(source), source)
    return load_state_dict(net, entries, source=source, use_ema=use_ema, **fine_tuning_names(net))


def zero_classifier(net):
    """Set the classifier's weight and bias to zero: a new head that starts from zero logits, as BiT's fine-tuning
    code starts its new head (the backbone's features then decide the first gradients alone)."""
    prefix = fine_tuning_names(net)["classifier_name"] + "."
    zeroed = [param for param in net.get_parameters() if param.name.startswith(prefix)]
    for param in zeroed:
        param.set_data(init.initializer("zeros", param.shape, param.dtype))
    _logger.info("zero_init_head: the new classifier starts at zero (%s).", ", ".join(p.name for p in zeroed))
