"""Recipes: typed keys from YAML and the command line, helpful errors, contradiction checks, saved recipes."""
import glob
import logging
import os
import subprocess
import sys

import pytest
import yaml

from mindcv_resnetv2.config import KEYS, ConfigError, format_config, parse_args, save_config
from mindcv_resnetv2.config.reference import keys_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = sorted(glob.glob(os.path.join(ROOT, "configs", "resnetv2", "*.yaml")))

# What MindCV's resnetv2_50_ascend.yaml sets (FACTS.md), plus the keys it leaves at MindCV's defaults.
MINDCV_RESNETV2_50 = dict(
    mode=0, distribute=True, num_parallel_workers=8, val_while_train=True, dataset="imagenet", batch_size=32,
    drop_remainder=True, image_resize=224, scale=[0.08, 1.0], ratio=[0.75, 1.333], hflip=0.5,
    interpolation="bilinear", crop_pct=0.875, model="resnetv2_50", num_classes=1000, keep_checkpoint_max=30,
    epoch_size=120, dataset_sink_mode=True, amp_level="O2", loss="CE", label_smoothing=0.1,
    scheduler="cosine_decay", lr=0.1, min_lr=0.0, warmup_epochs=0, decay_epochs=120, opt="momentum",
    momentum=0.9, weight_decay=0.0001, loss_scale=1024.0, use_nesterov=False,
    color_jitter=0.4, mean=[0.485 * 255, 0.456 * 255, 0.406 * 255], std=[0.229 * 255, 0.224 * 255, 0.225 * 255],
    shuffle=True, dataset_download=False, pretrained=False, ckpt_path="", ckpt_save_dir="./ckpt",
    weight_decay_filter="disable", loss_scale_type="fixed",
)


def write_recipe(tmp_path, text, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def parse(*argv, entry="train"):
    return parse_args(list(argv), entry=entry)


@pytest.mark.parametrize("text, expected", [
    ("False", False), ("false", False), ("NO", False), ("0", False), ("off", False),
    ("True", True), ("yes", True), ("1", True), ("ON", True),
])
def test_boolean_words_parse_to_their_meaning(text, expected):
    assert parse("--distribute", text).distribute is expected


def test_bare_boolean_flag_means_true_and_yaml_booleans_work(tmp_path):
    assert parse("--ema").ema is True
    recipe = write_recipe(tmp_path, "ema: yes\nclip_grad: 0\n")
    cfg = parse("-c", recipe)
    assert cfg.ema is True and cfg.clip_grad is False


def test_bad_boolean_names_key_value_and_accepted_words():
    with pytest.raises(ConfigError, match=r"distribute on the command line: maybe .*true/false"):
        parse("--distribute", "maybe")


@pytest.mark.parametrize("argv", [
    ["--scale", "0.2", "1.0"], ["--scale", "[0.2, 1.0]"], ["--scale", "0.2,1.0"], ["--scale=[0.2,1]"],
])
def test_list_keys_accept_words_brackets_and_commas(argv):
    assert parse(*argv).scale == [0.2, 1.0]


def test_list_key_of_wrong_length_or_item_type_is_an_error():
    with pytest.raises(ConfigError, match="scale.*list of 2 float"):
        parse("--scale", "0.1", "0.5", "1.0")
    with pytest.raises(ConfigError, match="multi_step_decay_milestones.*whole number"):
        parse("--multi_step_decay_milestones", "30", "x")
    with pytest.raises(ConfigError, match="strictly increasing"):
        parse("--multi_step_decay_milestones", "[60, 30]")


def test_yaml_reads_exponent_floats_and_nulls(tmp_path):
    # PyYAML reads 1e-4 as a string; it is still a number here.
    cfg = parse("-c", write_recipe(tmp_path, "weight_decay: 1e-4\nnum_classes: null\ndrop_rate: ~\n"))
    assert cfg.weight_decay == pytest.approx(1e-4) and cfg.num_classes is None and cfg.drop_rate is None
    assert parse("--num_classes", "None").num_classes is None


def test_choices_are_checked_for_yaml_values(tmp_path):
    recipe = write_recipe(tmp_path, "opt: adagradd\n")
    with pytest.raises(ConfigError) as err:
        parse("-c", recipe)
    message = str(err.value)
    assert "opt" in message and "adagradd" in message and recipe in message and "momentum" in message


def test_choices_match_case_insensitively_and_return_canonical_spelling(tmp_path):
    cfg = parse("-c", write_recipe(tmp_path, "amp_level: o2\nloss: ce\n"), "--opt", "AdamW")
    assert (cfg.amp_level, cfg.loss, cfg.opt) == ("O2", "CE", "adamw")


def test_unknown_yaml_key_names_file_and_suggests_closest(tmp_path):
    recipe = write_recipe(tmp_path, "batch_size: 8\nlable_smoothing: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'lable_smoothing' in recipe .*did you mean 'label_smoothing'"):
        parse("-c", recipe)


def test_unknown_cli_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"unknown key 'bach_size' on the command line; did you mean 'batch_size'"):
        parse("--bach_size", "32")
    with pytest.raises(ConfigError, match="unknown key 'warmup_epoch'"):
        parse("--warmup_epoch=3")  # no silent prefix matching either


@pytest.mark.parametrize("argv, pattern", [
    (["--batch_size", "32.5"], r"batch_size on the command line: 32.5 \(expected a whole number >= 1\)"),
    (["--batch_size", "0"], "batch_size.*>= 1"),
    (["--lr", "fast"], "lr.*expected a finite number"),
    (["--hflip", "1.5"], "hflip.*<= 1"),
    (["--mode", "2"], "mode.*expected one of 0, 1"),
])
def test_wrong_type_or_range_names_key_value_and_accepted(argv, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse(*argv)


def test_yaml_type_error_names_the_file(tmp_path):
    recipe = write_recipe(tmp_path, "epoch_size: many\n")
    with pytest.raises(ConfigError, match=f"epoch_size in recipe {recipe}: many"):
        parse("-c", recipe)


def test_cli_overrides_yaml_overrides_defaults(tmp_path):
    cfg = parse("-c", write_recipe(tmp_path, "batch_size: 8\nlr: 0.5\n"), "--lr", "0.2")
    assert (cfg.batch_size, cfg.lr, cfg.epoch_size) == (8, 0.2, 90)


@pytest.mark.parametrize("text, pattern", [
    (None, "does not exist"),
    ("batch_size: [1, 2\n", "not valid YAML.*line"),
    ("- batch_size\n- 3\n", "must be a mapping"),
])
def test_bad_recipe_file_is_named(tmp_path, text, pattern):
    path = str(tmp_path / "bad.yaml") if text is None else write_recipe(tmp_path, text, "bad.yaml")
    with pytest.raises(ConfigError, match=pattern) as err:
        parse("-c", path)
    assert "bad.yaml" in str(err.value)


def test_a_key_given_twice_in_one_recipe_is_refused_with_both_lines(tmp_path):
    path = write_recipe(tmp_path, "model: preact_resnet18\nlr: 0.1\nbatch_size: 8\nlr: 0.4\n", "twice.yaml")
    with pytest.raises(ConfigError, match=r"twice\.yaml.* 'lr' twice.*lines? 2 and 4") as err:
        parse("-c", path)
    assert len(str(err.value).splitlines()) == 1


def test_a_deeply_nested_recipe_is_one_line(tmp_path):
    path = write_recipe(tmp_path, "lr: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    with pytest.raises(ConfigError, match=r"deep\.yaml.*nested more than \d+ levels") as err:
        parse("-c", path)
    assert len(str(err.value).splitlines()) == 1


def test_a_huge_recipe_is_refused_before_it_is_parsed(tmp_path):
    path = write_recipe(tmp_path, "# padding\n" * 200000 + "lr: 0.1\n", "huge.yaml")
    with pytest.raises(ConfigError, match=r"huge\.yaml.* is \d+\.\d MiB.*at most 1 MiB"):
        parse("-c", path)


def test_top_k_without_validation_is_an_error_that_says_what_to_change():
    with pytest.raises(ConfigError, match="val_while_train: True.*latest_k"):
        parse("--ckpt_save_policy", "top_k")
    assert parse("--ckpt_save_policy", "top_k", "--val_while_train", "true").ckpt_save_policy == "top_k"
    # validation does not checkpoint, so the training-only contradictions do not apply to it
    assert parse("--ckpt_save_policy", "top_k", entry="validate").ckpt_save_policy == "top_k"


def test_missing_resume_and_ckpt_files_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="resume .*not a file.*resume: auto"):
        parse("--resume", str(tmp_path / "missing.ckpt"))
    with pytest.raises(ConfigError, match="ckpt_path .*not a file"):
        parse("--ckpt_path", str(tmp_path / "missing.ckpt"), entry="validate")
    assert parse("--resume", "auto").resume == "auto"


def test_long_schedule_warns_with_the_fitting_value(caplog):
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.config"):
        parse("--epoch_size", "10", "--warmup_epochs", "2", "--decay_epochs", "10")
    assert "set decay_epochs to 8" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.config"):
        parse("--epoch_size", "10", "--warmup_epochs", "2", "--decay_epochs", "8")
    assert "decay_epochs" not in caplog.text


@pytest.mark.parametrize("argv, fragment", [
    (["--cutmix_prob", "0.5"], "cutmix_prob has no effect"),
    (["--opt", "adam", "--eps", "1e-3"], "eps has no effect with opt adam"),
    (["--opt", "adamw", "--use_nesterov", "true"], "use_nesterov has no effect with opt adamw"),
])
def test_settings_without_effect_warn(caplog, argv, fragment):
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.config"):
        parse("--decay_epochs", "87", *argv)
    assert fragment in caplog.text


@pytest.mark.parametrize("opt", ["sgd", "momentum", "nesterov", "adam", "lars"])
def test_use_nesterov_with_an_optimizer_that_reads_it_does_not_warn(caplog, opt):
    """The optimizers that read nesterov are optim.optimizer.OPTIMIZERS_READING's (adam, as in MindCV, and lars
    too), not a list of its own."""
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.config"):
        parse("--decay_epochs", "87", "--opt", opt, "--use_nesterov", "true")
    assert "use_nesterov has no effect" not in caplog.text


def test_other_contradictions_are_errors():
    with pytest.raises(ConfigError, match="min_lr"):
        parse("--lr", "0.01", "--min_lr", "0.1")
    with pytest.raises(ConfigError, match="mean has 2 values but std has 3"):
        parse("--mean", "1", "2")
    with pytest.raises(ConfigError, match="in_channels is 1"):
        parse("--in_channels", "1")


def test_sink_mode_with_a_short_last_batch_is_refused_with_the_recipe_naming_both_keys():
    """A sink runs one graph over batches of one shape; refused when the recipe is read, before data or network
    are built, on every device (a recipe means the same on CPU and Ascend)."""
    with pytest.raises(ConfigError, match=r"dataset_sink_mode: True needs drop_remainder: True.*"
                                          r"dataset_sink_mode: False"):
        parse("--dataset_sink_mode", "True", "--drop_remainder", "False")
    assert not parse("--dataset_sink_mode", "False", "--drop_remainder", "False").drop_remainder
    assert parse("--dataset_sink_mode", "True", "--drop_remainder", "False", entry="validate").dataset_sink_mode


def test_older_mindcv_spellings_become_current_keys(tmp_path):
    cfg = parse("-c", write_recipe(tmp_path, "filter_bias_and_bn: True\ndynamic_loss_scale: true\n"))
    assert (cfg.weight_decay_filter, cfg.loss_scale_type) == ("norm_and_bias", "dynamic")
    assert cfg.filter_bias_and_bn is None and cfg.dynamic_loss_scale is None
    with pytest.raises(ConfigError, match="keep only weight_decay_filter"):
        parse("--filter_bias_and_bn", "false", "--weight_decay_filter", "norm_and_bias")


def test_mindcv_resume_opt_becomes_resume(tmp_path):
    checkpoint = tmp_path / "net-5_10.ckpt"
    checkpoint.write_bytes(b"x")
    cfg = parse("--ckpt_path", str(checkpoint), "--resume_opt", "True")
    assert (cfg.resume, cfg.ckpt_path, cfg.resume_opt) == (str(checkpoint), "", False)
    with pytest.raises(ConfigError, match="resume_opt: True needs ckpt_path"):
        parse("--resume_opt")


def test_auto_device_and_jit_level_are_resolved():
    import mindspore as ms

    cfg = parse()
    assert cfg.device_target == ms.get_context("device_target")
    assert cfg.jit_level == ("O2" if cfg.device_target == "Ascend" else "O0")
    assert parse("--jit_level", "O1").jit_level == "O1"


def test_save_config_round_trip_repeats_the_run(tmp_path):
    recipe = write_recipe(tmp_path, "filter_bias_and_bn: true\nre_value: random\nauto_augment: randaug-m9-n2\n")
    first = parse("-c", recipe, "--scale", "0.3", "1", "--num_classes", "7", "--weight_decay", "3e-5")
    saved = save_config(first, str(tmp_path / "out" / "recipe.yaml"))
    again = parse("-c", saved)
    assert dict(again) == dict(first)
    assert yaml.safe_load(open(saved))["weight_decay_filter"] == "norm_and_bias"
    assert not [name for name in os.listdir(tmp_path / "out") if name != "recipe.yaml"]  # no temporary left


def test_config_is_namespace_like_and_dict_convertible():
    cfg = parse("--batch_size", "16")
    as_dict = dict(cfg)
    assert cfg.batch_size == as_dict["batch_size"] == 16
    assert set(as_dict) == {key.name for key in KEYS}
    assert cfg.config == ""


@pytest.mark.parametrize("recipe", RECIPES, ids=os.path.basename)
def test_every_recipe_parses_and_its_text_lists_only_known_keys(recipe):
    # bit_hyperrule reads the training set while parsing: give that recipe one that needs no files.
    data = ["--dataset", "synthetic"] if yaml.safe_load(open(recipe)).get("bit_hyperrule") else []
    cfg = parse("-c", recipe, *data, entry="train")
    assert cfg.model and cfg.epoch_size >= 1
    assert "Repeat the run" in format_config(cfg)


def test_mindcv_recipes_equal_published_values():
    for depth, keep in ((50, 30), (101, 10)):
        cfg = parse("-c", os.path.join(ROOT, "configs", "resnetv2", f"resnetv2_{depth}_ascend.yaml"))
        expected = dict(MINDCV_RESNETV2_50, model=f"resnetv2_{depth}", keep_checkpoint_max=keep)
        assert {name: cfg[name] for name in expected} == expected


def test_paper_cifar_recipe_schedule():
    cfg = parse("-c", os.path.join(ROOT, "configs", "resnetv2", "preact_resnet164_cifar10.yaml"))
    assert (cfg.batch_size, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.epoch_size) == (128, 0.1, 0.9, 1e-4, 164)
    assert (cfg.scheduler, cfg.multi_step_decay_milestones, cfg.decay_rate) == ("multi_step_decay", [81, 122], 0.1)
    assert (cfg.crop_padding, cfg.hflip, cfg.label_smoothing, cfg.warmup_epochs) == (4, 0.5, 0.0, 0)
    for depth in (110, 1001):
        warm = parse("-c", os.path.join(ROOT, "configs", "resnetv2", f"preact_resnet{depth}_cifar10.yaml"))
        assert (warm.warmup_mode, warm.warmup_factor * warm.lr, warm.warmup_epochs) == ("constant", pytest.approx(0.01), 1)


def test_markdown_reference_lists_every_key():
    text = keys_markdown()
    assert all(f"| `{key.name}` |" in text for key in KEYS)


def test_script_exits_2_with_one_line_and_help_groups_keys():
    command = [sys.executable, "-m", "mindcv_resnetv2.config", "--bach_size", "3"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "did you mean 'batch_size'" in error_lines[0]
    help_text = subprocess.run([sys.executable, "-m", "mindcv_resnetv2.config", "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120).stdout
    for title in ("System:", "Dataset:", "Augmentation:", "Optimizer:", "Checkpoints and resume:"):
        assert title in help_text
    assert "--batch_size INT" in help_text and "(default: 128)" in help_text


def test_synonyms_from_other_frameworks_point_to_our_key():
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        parse_args(["--learning_rate", "0.1"])
    with pytest.raises(ConfigError, match="did you mean 'epoch_size'"):
        parse_args(["--epochs", "3"])


def test_amp_cast_list_is_read_as_mindcv_writes_it_and_an_unknown_cell_is_refused_by_name():
    assert parse("--amp_cast_list", "[nn.Conv2d, nn.Dense]").amp_cast_list == "[nn.Conv2d, nn.Dense]"
    with pytest.raises(ConfigError, match=r"amp_cast_list: 'os\.system' is not a cell class.*nn\.Conv2d"):
        parse("--amp_cast_list", "[nn.Conv2d, os.system]")
