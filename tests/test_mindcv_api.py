"""MindCV 0.3.0's Python API and recipe keys mean the same here: every create_* function takes MindCV's parameters
in MindCV's order with MindCV's defaults (this project's own come after them, keyword-only), and a MindCV
argument or key that cannot mean anything here is refused with the reason instead of being ignored."""
import importlib
import inspect

import pytest

from mindcv_resnetv2.config import ConfigError, parse_args
from mindcv_resnetv2.config.schema import KEYS, REFUSED
from mindcv_resnetv2.data import create_loader, create_transforms
from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.optim import create_loss

# (MindCV module, function, our module)
FUNCTIONS = [
    ("mindcv.models", "create_model", "mindcv_resnetv2.models"),
    ("mindcv.data", "create_dataset", "mindcv_resnetv2.data"),
    ("mindcv.data", "create_transforms", "mindcv_resnetv2.data"),
    ("mindcv.data", "create_loader", "mindcv_resnetv2.data"),
    ("mindcv.loss", "create_loss", "mindcv_resnetv2.optim"),
    ("mindcv.optim", "create_optimizer", "mindcv_resnetv2.optim"),
    ("mindcv.scheduler", "create_scheduler", "mindcv_resnetv2.optim"),
]
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
# The one default that differs on purpose: our create_model(name) builds the model's own class count (its default
# cfg's: 10 for a CIFAR net), MindCV's 1000 for every model.
OUR_DEFAULTS = {("create_model", "num_classes"): (1000, None)}


def positional(function):
    """[(name, default)] of the parameters a caller may pass by position."""
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values() if p.kind in POSITIONAL]


@pytest.mark.parametrize("mindcv_module, name, our_module", FUNCTIONS, ids=[f[1] for f in FUNCTIONS])
def test_signature_is_mindcvs_with_our_parameters_keyword_only(mindcv_module, name, our_module):
    theirs = getattr(pytest.importorskip(mindcv_module), name)
    ours = getattr(importlib.import_module(our_module), name)
    assert positional(ours) == [(param, OUR_DEFAULTS.get((name, param), (default, default))[1])
                                for param, default in positional(theirs)]
    extra = [p for p in inspect.signature(ours).parameters.values() if p.kind not in POSITIONAL]
    assert all(p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD) for p in extra)


def test_mindcv_arguments_without_meaning_here_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="aux_factor=0.4 is not supported: no model of this zoo has an auxiliary"):
        create_loss("CE", aux_factor=0.4)
    with pytest.raises(ValueError, match="auto_mapping=True is not supported: checkpoints load strictly by"):
        create_model("preact_resnet20_cifar", auto_mapping=True)
    with pytest.raises(ValueError, match="create_loader: target_transform=.* is not supported: labels"):
        create_loader(None, 2, target_transform=[lambda label: label])


REFUSED_SETTINGS = {"aux_factor": ("0.4", "no model of this zoo has an auxiliary head"),
                    "enable_modelarts": ("true", "moxing"),
                    "data_url": ("s3://bucket/data", "give data_dir"),
                    "multi_data_url": ("s3://bucket/data", "give data_dir"),
                    "ckpt_url": ("s3://bucket/ckpt", "give ckpt_path"),
                    "train_url": ("s3://bucket/out", "give ckpt_save_dir")}


@pytest.mark.parametrize("key", sorted(REFUSED_SETTINGS))
def test_refused_recipe_keys_are_errors_that_say_why(key):
    value, reason = REFUSED_SETTINGS[key]
    with pytest.raises(ConfigError, match=f"{key}: .* cannot be used here: .*{reason}.*Leave it at its default"):
        parse_args([f"--{key}", value], entry="train")
    with pytest.raises(ConfigError, match=f"{key}: "):
        parse_args([f"--{key}", value], entry="validate")
    parse_args([f"--{key}", str(next(k.default for k in KEYS if k.name == key))], entry="train")  # default: fine


def test_every_refused_key_is_tested():
    assert {key.name for key in KEYS if key.role == REFUSED} == set(REFUSED_SETTINGS)


def test_eval_shuffle_shuffles_the_validation_data_only():
    """MindCV's eval_shuffle: the validation loader reads another order (the same images); off, the file order."""
    from mindcv_resnetv2.engine.builders import build_loader
    from mindcv_resnetv2.engine.runtime import Runtime

    def labels(*argv):
        cfg = parse_args(["--dataset", "synthetic", "--image_resize", "8", "--batch_size", "16",
                          "--num_classes", "4", "--shuffle", "false", *argv], entry="validate")
        loader = build_loader(cfg, Runtime("CPU"), cfg.val_split, False, 4)
        return [int(label) for _, batch in loader.create_tuple_iterator(output_numpy=True) for label in batch]

    ordered, shuffled = labels(), labels("--eval_shuffle", "true")
    assert sorted(ordered) == sorted(shuffled) and ordered != shuffled
