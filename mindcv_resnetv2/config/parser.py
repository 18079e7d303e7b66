"""Read a recipe: defaults, then the YAML file given by -c/--config, then `--key value` overrides, each value
checked against its key's type and choices, with errors that name the key, the value and where it came from.

Called from a script (argv=None) a bad recipe ends the process with status 2 and one line, like argparse;
called as a library it raises ConfigError.
"""
import argparse
import datetime
import functools
import os
import sys

import yaml

from .bit_hyperrule import apply_bit_hyperrule
from .checks import ENTRIES, check_config
from .resolve import resolve
from .schema import CONFIG_PATH_KEY, GROUPS, KEY_BY_NAME, KEYS, ConfigError, defaults, unknown_key_message
from .values import Bool
from ..utils.files import write_text_atomic

_DESCRIPTIONS = {
    "train": "Train a model from a recipe.",
    "validate": "Evaluate a checkpoint on a dataset split.",
    "infer": "Predict classes of images with a trained model.",
    "export": "Export a trained model for deployment.",
    "bench": "Measure training and evaluation speed.",
}
_CLI = "on the command line"
# A recipe is a few KiB of flat `key: value` lines; far larger or deeper files are refused before they cost minutes.
MAX_RECIPE_BYTES = 2**20
MAX_RECIPE_DEPTH = 20
# Not a recipe key: the entry points read it (engine/cli.py) to show tracebacks; listed here so --help shows it.
DEBUG_OPTION = "--debug"


class Config(argparse.Namespace):
    """The resolved recipe: attribute access like argparse's Namespace, and dict(cfg) gives every key."""

    def keys(self):
        return list(KEY_BY_NAME)

    def __getitem__(self, name):
        if name not in KEY_BY_NAME:
            raise KeyError(name)
        return getattr(self, name)

    def to_dict(self):
        return {name: getattr(self, name) for name in KEY_BY_NAME}


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that raises ConfigError instead of exiting, so library callers can catch it."""

    def error(self, message):
        raise ConfigError(message)


def build_argument_parser(entry="train"):
    """The command-line parser: -c/--config plus one --key per recipe key, grouped by topic, defaults in the help."""
    parser = _ArgumentParser(
        prog=f"{entry}.py",  # as the user typed it, whether run as a script or through the package
        description=_DESCRIPTIONS[entry] + " Keys come from the defaults, then the recipe (-c), then --key value.",
        usage="%(prog)s [-h] [-c RECIPE.yaml] [--key VALUE ...]",
        allow_abbrev=False,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("-c", "--config", metavar="RECIPE.yaml", help="YAML recipe whose keys override the defaults.")
    parser.add_argument(DEBUG_OPTION, action="store_true",
                        help="Show the traceback of every error, not only one line (also MINDCV_RESNETV2_DEBUG=1).")
    for group, title in GROUPS.items():
        arguments = parser.add_argument_group(title)
        for key in KEYS:
            if key.group == group:
                arguments.add_argument(f"--{key.name}", **_argument_options(key))
    return parser


def _argument_options(key):
    choices = getattr(key.kind, "choices", None)
    metavar = "{" + ",".join(str(c) for c in choices) + "}" if choices else key.kind.metavar
    options = {"metavar": metavar, "help": f"{key.help} (default: {format_value(key.default)})".replace("%", "%%")}
    if key.kind.nargs:
        options["nargs"] = key.kind.nargs
    if isinstance(key.kind, Bool):
        options["const"] = "true"
    return options


def format_value(value):
    """A value as it is written in YAML (null, true, [0.08, 1.0])."""
    return yaml.safe_dump(value, default_flow_style=True, width=float("inf")).strip().removesuffix("\n...").strip()


def parse_args(argv=None, entry="train", exit_on_error=None):
    """The resolved recipe for `argv` (default sys.argv[1:]).

    exit_on_error: print `prog: error: message` and exit with status 2 on a bad recipe; by default True when
    argv is None (a script), False otherwise (ConfigError is raised).
    """
    if entry not in ENTRIES:
        raise ValueError(f"unknown entry {entry!r}; expected one of {', '.join(ENTRIES)}")
    if exit_on_error is None:
        exit_on_error = argv is None
    parser = build_argument_parser(entry)
    try:
        return _parse(parser, sys.argv[1:] if argv is None else list(argv), entry)
    except ConfigError as err:
        if not exit_on_error:
            raise
        parser.exit(2, f"{parser.prog}: error: {err}\n")


def _parse(parser, argv, entry):
    given, extras = parser.parse_known_args(argv)
    _reject_extras(extras)
    vars(given).pop(DEBUG_OPTION.lstrip("-"), None)
    recipe = getattr(given, CONFIG_PATH_KEY, "")
    values = defaults()
    if recipe:
        values.update(load_recipe(recipe))
    for name, raw in vars(given).items():
        if name != CONFIG_PATH_KEY:
            values[name] = _convert(KEY_BY_NAME[name], raw, _CLI)
    cfg = Config(**values)
    cfg.config = recipe
    resolve(cfg)
    if entry == "train" and cfg.bit_hyperrule:
        apply_bit_hyperrule(cfg, explicit_keys=set(vars(given)))
    return check_config(cfg, entry)


def _reject_extras(extras):
    if not extras:
        return
    first_option = next((token for token in extras if token.startswith("-") and not _is_number(token)), None)
    if first_option is None:
        raise ConfigError(f"unexpected argument {extras[0]!r} {_CLI}; keys are given as --key value")
    name = first_option.lstrip("-").split("=", 1)[0]
    raise ConfigError(unknown_key_message(name, _CLI))


def _is_number(token):
    try:
        float(token)
    except ValueError:
        return False
    return True


class _RecipeLoader(yaml.SafeLoader):
    """yaml.safe_load that refuses a key given twice in one mapping (YAML keeps the last silently) and nesting
    deeper than MAX_RECIPE_DEPTH (the composer recurses: 5,000 levels were 3,001 lines of RecursionError)."""

    def __init__(self, stream, path):
        super().__init__(stream)
        self.path, self.depth = path, 0

    def compose_node(self, parent, index):
        self.depth += 1
        if self.depth > MAX_RECIPE_DEPTH:
            mark = self.peek_event().start_mark
            raise ConfigError(f"recipe file {self.path!r} is nested more than {MAX_RECIPE_DEPTH} levels deep (line "
                              f"{mark.line + 1}); a recipe is 'key: value' lines whose values are numbers, strings "
                              "or short lists")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in first_line:
                raise ConfigError(f"recipe file {self.path!r} sets {key!r} twice, on lines {first_line[key]} and "
                                  f"{line}: YAML would silently keep the last; keep one of them")
            first_line.setdefault(key, line)
        return super().construct_mapping(node, deep=deep)


def load_recipe(path):
    """The checked values of a YAML recipe, or ConfigError naming the file and the problem."""
    source = f"in recipe {path}"
    if not os.path.isfile(path):
        raise ConfigError(f"recipe file {path!r} does not exist" if not os.path.exists(path)
                          else f"recipe {path!r} is not a file")
    size = os.path.getsize(path)
    if size > MAX_RECIPE_BYTES:
        raise ConfigError(f"recipe file {path!r} is {size / 2**20:.1f} MiB; a recipe is a few KiB of 'key: value' "
                          f"lines (at most {MAX_RECIPE_BYTES // 2**20} MiB are read)")
    try:
        with open(path, encoding="utf-8") as stream:
            content = yaml.load(stream, Loader=functools.partial(_RecipeLoader, path=path))
    except OSError as err:
        raise ConfigError(f"cannot read recipe file {path!r}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"recipe file {path!r} is not UTF-8 text") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise ConfigError(f"recipe file {path!r} is not valid YAML: {problem}{where}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"recipe file {path!r} must be a mapping of 'key: value' lines, not a {type(content).__name__}")
    values = {}
    for name, raw in content.items():
        if name == CONFIG_PATH_KEY:  # MindCV's saved recipes record their own path; it means nothing here
            continue
        key = KEY_BY_NAME.get(name) if isinstance(name, str) else None
        if key is None:
            raise ConfigError(unknown_key_message(str(name), source))
        values[name] = _convert(key, raw, source)
    return values


def _convert(key, raw, source):
    try:
        return key.parse(raw)
    except ValueError as err:
        if source == _CLI:  # as typed
            shown = " ".join(raw) if isinstance(raw, list) else raw
        else:
            shown = format_value(raw)
        raise ConfigError(f"invalid value for {key.name} {source}: {shown} ({err})") from None


def format_config(cfg):
    """The recipe as YAML text, grouped by topic, that parse_args reads back to the same values."""
    values = _as_dict(cfg)
    lines = [
        "# Resolved recipe written by mindcv_resnetv2 on "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}.",
        "# Repeat the run with: python train.py -c <this file>",
    ]
    for group, title in GROUPS.items():
        lines += ["", f"# {title}"]
        for key in KEYS:
            if key.group == group:
                lines.append(f"{key.name}: {format_value(values[key.name])}")
    return "\n".join(lines) + "\n"


def save_config(cfg, path):
    """Write the resolved recipe to `path` atomically (a crash never leaves half a file); returns the path."""
    return write_text_atomic(path, format_config(cfg), what="recipe")


def _as_dict(cfg):
    values = cfg.to_dict() if isinstance(cfg, Config) else dict(vars(cfg) if isinstance(cfg, argparse.Namespace) else cfg)
    missing = [name for name in KEY_BY_NAME if name not in values]
    if missing:
        raise ConfigError(f"cannot save a recipe without the keys {', '.join(missing)}")
    return values
