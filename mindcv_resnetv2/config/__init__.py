"""Recipes: every training/validation setting, read from YAML and the command line with types enforced.

    cfg = parse_args(entry="train")      # -c recipe.yaml --key value ...
    save_config(cfg, "ckpt/recipe.yaml")  # the resolved recipe, enough to repeat the run
"""
from .checks import ENTRIES, check_config
from .parser import Config, build_argument_parser, format_config, load_recipe, parse_args, save_config
from .schema import GROUPS, KEY_BY_NAME, KEYS, ConfigError, Key, defaults

__all__ = [
    "ENTRIES", "GROUPS", "KEYS", "KEY_BY_NAME", "Config", "ConfigError", "Key", "build_argument_parser",
    "check_config", "defaults", "format_config", "load_recipe", "parse_args", "save_config",
]
