"""Model registry: names -> builder functions and their default configurations, in the timm/MindCV style.

`create_model` is the single entry point that train, validate, infer and the benchmarks use to build a network,
so pretrained-weight and checkpoint handling live here once. Every registered builder has the signature MindCV and
timm use, `name(pretrained=False, num_classes=N, in_channels=3, **kwargs)` with N its default cfg's num_classes
(1000, 10 for the CIFAR nets), and loads the published weights itself when `pretrained`, so MindCV's registry can
hold our builders as they are.
"""
import difflib
import fnmatch
import logging
import os
import sys

from mindspore.common import initializer as init

from ..checkpoint import load_state_dict, read_checkpoint
from ..errors import InvalidInputError
from ..unsupported import refuse_unless_default
from .pretrained import weights_file

_logger = logging.getLogger(__name__)
_entrypoints = {}
_default_cfgs = {}


# Every model name of timm's ResNetV2 family (timm 1.0.31, timm/models/resnetv2.py) -> ours. timm's resnetv2_18 ...
# resnetv2_152 are the paper's design, our preact_resnet*: our resnetv2_50 / resnetv2_101 keep MindCV's layout (and
# its checkpoints), so those timm names point elsewhere. timm's other names are ours too.
TIMM_NAMES = {
    "resnetv2_18": "preact_resnet18",
    "resnetv2_34": "preact_resnet34",
    "resnetv2_50": "preact_resnet50",
    "resnetv2_101": "preact_resnet101",
    "resnetv2_152": "preact_resnet152",
    **{
        name: name
        for name in (
            "resnetv2_18d", "resnetv2_34d", "resnetv2_50d", "resnetv2_101d", "resnetv2_152d", "resnetv2_50t",
            "resnetv2_50d_gn", "resnetv2_50d_evos", "resnetv2_50d_frn",
            "resnetv2_50x1_bit", "resnetv2_50x3_bit", "resnetv2_101x1_bit", "resnetv2_101x3_bit",
            "resnetv2_152x2_bit", "resnetv2_152x4_bit",
        )
    },
}


def model_for_timm_weights(name):
    """Our model that holds the weights of timm's `name` (a timm name, with or without a pretrained tag such as
    '.goog_in21k', or one of ours). timm's names win where both exist: 'resnetv2_50' here means timm's."""
    architecture = name.split(".", 1)[0]
    if architecture in TIMM_NAMES:
        return TIMM_NAMES[architecture]
    if architecture in _entrypoints:
        return architecture
    raise _unknown_model_error(name, extra=sorted(TIMM_NAMES))


def register_model(fn):
    """Decorator: register `fn` under its own name, with the default config from its module's `default_cfgs[name]`."""
    name = fn.__name__
    if name in _entrypoints:
        raise ValueError(f"model '{name}' is registered twice ({fn.__module__} and {_entrypoints[name].__module__})")
    module_cfgs = getattr(sys.modules[fn.__module__], "default_cfgs", {})
    _entrypoints[name] = fn
    _default_cfgs[name] = dict(module_cfgs.get(name, {}))
    return fn


def is_model(model_name):
    """True when `model_name` is registered."""
    return model_name in _entrypoints


def _unknown_model_error(model_name, extra=()):
    close = difflib.get_close_matches(model_name, sorted(set(_entrypoints) | set(extra)), n=5, cutoff=0.4)
    hint = f" Closest registered names: {', '.join(close)}." if close else ""
    return InvalidInputError(
        f"Unknown model '{model_name}'.{hint} See list_models() for all {len(_entrypoints)} names.")


def model_entrypoint(model_name):
    """The builder function registered under `model_name`."""
    if model_name not in _entrypoints:
        raise _unknown_model_error(model_name)
    return _entrypoints[model_name]


def get_default_cfg(model_name):
    """A copy of the default configuration (input size, crop_pct, mean/std, classifier, weights) of a model."""
    model_entrypoint(model_name)
    return dict(_default_cfgs[model_name])


def list_models(pattern="*", pretrained=False):
    """Sorted registered names matching a shell-style `pattern`; with `pretrained`, only those with published weights."""
    names = [n for n in _entrypoints if fnmatch.fnmatch(n, pattern)]
    if pretrained:
        names = [n for n in names if _default_cfgs[n].get("url")]
    return sorted(names, key=_natural_key)


def _natural_key(name):
    """Sort resnet18 before resnet101: split digit runs and compare them as numbers."""
    key, digits = [], ""
    for ch in name + " ":
        if ch.isdigit():
            digits += ch
            continue
        if digits:
            key.append((0, int(digits)))
            digits = ""
        key.append((1, ch))
    return key


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


def zero_classifier(net):
    """Set the classifier's weight and bias to zero: a new head that starts from zero logits, as BiT's fine-tuning
    code starts its new head (the backbone's features then decide the first gradients alone)."""
    prefix = fine_tuning_names(net)["classifier_name"] + "."
    zeroed = [param for param in net.get_parameters() if param.name.startswith(prefix)]
    for param in zeroed:
        param.set_data(init.initializer("zeros", param.shape, param.dtype))
    _logger.info("zero_init_head: the new classifier starts at zero (%s).", ", ".join(p.name for p in zeroed))


def create_model(
    model_name,
    num_classes=None,
    pretrained=False,
    in_channels=3,
    checkpoint_path="",
    ema=False,
    auto_mapping=False,
    *,
    drop_rate=0.0,
    drop_path_rate=0.0,
    features_only=False,
    zero_init_head=False,
    **kwargs,
):
    """Build a registered model and, if asked, load weights strictly into it; MindCV 0.3.0's parameters and
    defaults, this project's after them (keyword-only), except `num_classes`: None (the default) is the model's
    own default cfg's class count (10 for the CIFAR nets) where MindCV's create_model says 1000 for every model.

    `pretrained` loads the registry's published weights (downloaded on first use); `checkpoint_path` loads a file
    (its EMA weights with `ema`); they are exclusive. Either may have another class count than `num_classes`: the
    classifier is then re-initialised (fine-tuning); or 1 input channel (network N) or 3 (network 1): the first
    convolution is then adapted (checkpoint.adapt_first_conv). `zero_init_head`: a classifier so replaced starts
    at zero (zero_classifier). `auto_mapping` must stay False: names are matched exactly.
    The network's `replaced_classifier` lists the loaded weights' classifier entries it dropped (empty when the
    head was loaded or no weights were): train.py's learning-rate advice for a new head reads it.
    """
    refuse_unless_default("create_model", "auto_mapping", auto_mapping, False,
                          "checkpoints load strictly by parameter name here; convert a timm or BiT file with "
                          "python -m mindcv_resnetv2.convert")
    if pretrained and checkpoint_path:
        raise ValueError(f"pretrained=True and checkpoint_path='{checkpoint_path}' are exclusive: pick one")
    if num_classes is not None:  # else the entry point's default
        kwargs["num_classes"] = num_classes
    net = model_entrypoint(model_name)(
        pretrained=False,
        in_channels=in_channels,
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
        features_only=features_only,
        **kwargs,
    )
    replaced = []
    if pretrained:  # what the builder does with pretrained=True, here to learn whether the head was replaced
        replaced = load_pretrained(net, model_name)
    elif checkpoint_path:
        source = os.fspath(checkpoint_path)
        entries = checkpoint_entries(net, read_checkpoint(source), source)
        replaced = load_state_dict(net, entries, source=source, use_ema=ema, **fine_tuning_names(net))
    if zero_init_head and replaced:
        zero_classifier(net)
    net.replaced_classifier = tuple(replaced)
    return net
