"""Model registry: names -> builder functions and their default configurations, in the timm/MindCV style.

Every registered builder has the signature MindCV and timm use, `name(pretrained=False, num_classes=N,
in_channels=3, **kwargs)` with N its default cfg's num_classes (1000, 10 for the CIFAR nets), and loads the
published weights itself when `pretrained`, so MindCV's registry can hold our builders as they are. Networks are
built through model_factory.create_model; weights are pretrained.py's.
"""
import difflib
import fnmatch
import sys

from ..errors import InvalidInputError

_entrypoints = {}
_default_cfgs = {}


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


def unknown_model_error(model_name, extra=()):
    """The error for a name that is not registered, naming the closest registered names (and `extra` ones)."""
    close = difflib.get_close_matches(model_name, sorted(set(_entrypoints) | set(extra)), n=5, cutoff=0.4)
    hint = f" Closest registered names: {', '.join(close)}." if close else ""
    return InvalidInputError(
        f"Unknown model '{model_name}'.{hint} See list_models() for all {len(_entrypoints)} names.")


def model_entrypoint(model_name):
    """The builder function registered under `model_name`."""
    if model_name not in _entrypoints:
        raise unknown_model_error(model_name)
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
    return sorted(names, key=natural_key)


def natural_key(name):
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
