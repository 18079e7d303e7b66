"""Model registry: names -> builder functions and their default configurations, in the timm/MindCV style.

`create_model` is the single entry point that train, validate, infer and the benchmarks use to build a network,
so pretrained-weight and checkpoint handling live here once.
"""
import difflib
import fnmatch
import os
import sys

_entrypoints = {}
_default_cfgs = {}

# Where pretrained weights are looked up (no download is ever attempted: the file must be put there).
# MindCV keeps its downloads in ~/.mindspore/models, so a MindCV user's cache is found too.
WEIGHTS_DIR_ENV = "MINDCV_RESNETV2_HOME"
MINDCV_CACHE_DIR = os.path.join("~", ".mindspore", "models")


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


def _unknown_model_error(model_name):
    close = difflib.get_close_matches(model_name, list(_entrypoints), n=5, cutoff=0.4)
    hint = f" Closest registered names: {', '.join(close)}." if close else ""
    return ValueError(f"Unknown model '{model_name}'.{hint} See list_models() for all {len(_entrypoints)} names.")


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
    """The local file that holds a model's published weights; a clear error says where to put it if absent."""
    cfg = get_default_cfg(model_name)
    url = cfg.get("url")
    if not url:
        raise ValueError(
            f"Model '{model_name}' has no published weights. Models with weights: {', '.join(list_models(pretrained=True))}."
        )
    filename = url.rsplit("/", 1)[-1]
    candidates = []
    if os.environ.get(WEIGHTS_DIR_ENV):
        candidates.append(os.path.join(os.environ[WEIGHTS_DIR_ENV], filename))
    candidates.append(os.path.join(os.path.expanduser(MINDCV_CACHE_DIR), filename))
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"Pretrained weights for '{model_name}' not found; looked for {' and '.join(candidates)}. "
        f"This package never downloads: fetch {url} and put it in one of those places "
        f"(or set {WEIGHTS_DIR_ENV}), or pass the file with checkpoint_path / --ckpt_path."
    )


def create_model(
    model_name,
    pretrained=False,
    num_classes=1000,
    in_channels=3,
    checkpoint_path="",
    drop_rate=0.0,
    drop_path_rate=0.0,
    features_only=False,
    use_ema=False,
    **kwargs,
):
    """Build a registered model and, if asked, load weights strictly into it.

    `pretrained` loads the registry's published weights from the local cache; `checkpoint_path` loads a file.
    Either may have another class count than `num_classes`: the classifier is then re-initialised (fine-tuning).
    """
    builder = model_entrypoint(model_name)
    net = builder(
        num_classes=num_classes,
        in_channels=in_channels,
        drop_rate=drop_rate,
        drop_path_rate=drop_path_rate,
        features_only=features_only,
        **kwargs,
    )
    weights = checkpoint_path or (pretrained_weights_path(model_name) if pretrained else "")
    if weights:
        from ..checkpoint import load_checkpoint  # imported late: checkpoint depends on nothing in models

        load_checkpoint(net, weights, use_ema=use_ema, classifier_name=net.default_cfg.get("classifier", "classifier"))
    return net
