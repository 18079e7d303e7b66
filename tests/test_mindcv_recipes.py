"""`python -m mindcv_resnetv2.config --mindcv-compatible RECIPE`: which recipes MindCV 0.3.0's train.py can read."""
import glob
import os

import pytest

from mindcv_resnetv2.config import KEYS, load_recipe
from mindcv_resnetv2.config.__main__ import main
from mindcv_resnetv2.mindcv.recipes import MINDCV_KEYS, is_our_key, mindcv_incompatibilities

RECIPES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "resnetv2")
# recipe -> the entries MindCV 0.3.0 would reject or misread (configs/resnetv2/README.md says the same)
EXPECTED = {
    "resnetv2_50_ascend.yaml": [],
    "resnetv2_101_ascend.yaml": [],
    "preact_resnet50_ascend.yaml": [],
    "preact_resnet110_cifar10.yaml": ["crop_padding", "warmup_mode"],
    "preact_resnet164_cifar10.yaml": ["crop_padding"],
    "preact_resnet1001_cifar10.yaml": ["crop_padding", "warmup_mode"],
    "preact_resnet_fashion_mnist_cpu.yaml": ["device_target", "dataset", "crop_padding"],
    "resnetv2_cpu_quick.yaml": ["device_target", "dataset", "crop_padding"],
    "bit_finetune.yaml": ["device_target", "bit_hyperrule", "zero_init_head"],
    "preact_resnet_digits_finetune_cpu.yaml": ["device_target", "crop_padding", "plot"],
}


def test_every_shipped_recipe_has_a_verdict():
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(RECIPES, "*.yaml"))) == sorted(EXPECTED)


@pytest.mark.parametrize("recipe", sorted(EXPECTED))
def test_recipe_verdicts(recipe, capsys):
    path = os.path.join(RECIPES, recipe)
    assert [name for name, _ in mindcv_incompatibilities(load_recipe(path))] == EXPECTED[recipe]
    assert main(["--mindcv-compatible", path]) == (1 if EXPECTED[recipe] else 0)
    out = capsys.readouterr().out
    if EXPECTED[recipe]:
        assert "not compatible with MindCV 0.3.0" in out
        assert all(f"  {name}: " in out for name in EXPECTED[recipe])
    else:
        assert "compatible with MindCV 0.3.0" in out and "not" not in out


def test_our_keys_come_from_the_schema_marks(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: preact_resnet18\nopt: lars\nresume: auto\nfilter_bias_and_bn: true\n")
    problems = dict(mindcv_incompatibilities(load_recipe(str(recipe))))
    assert problems["resume"].startswith("ours (new): Continue a run")
    assert "other MindCV releases" in problems["filter_bias_and_bn"]
    assert "value 'lars' is ours" in problems["opt"] and "model" not in problems
    assert main(["--mindcv-compatible", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_mindcv_keys_are_all_ours_to_read_and_never_marked_new():
    schema = {key.name for key in KEYS}
    assert MINDCV_KEYS <= schema  # every MindCV 0.3.0 recipe loads here
    assert not [name for name in MINDCV_KEYS if is_our_key(name)]


def test_values_mindcv_builds_from_a_recipe_are_compatible(tmp_path):
    """MindCV 0.3.0 checks choices only on the command line: from YAML, polynomial_decay, warmup_cosine_decay and
    nesterov reach its factories, which build them."""
    recipe = tmp_path / "r.yaml"
    for scheduler, opt in (("polynomial_decay", "nesterov"), ("warmup_cosine_decay", "momentum")):
        recipe.write_text(f"model: resnetv2_50\nscheduler: {scheduler}\nopt: {opt}\ndataset: cifar10\n")
        assert mindcv_incompatibilities(load_recipe(str(recipe))) == []
