"""Command-line entry points: parse the recipe, run, and turn the errors a user can fix into one clear line.

Only `errors.UserError` (a bad recipe, file, dataset, launch or run folder) becomes one line; anything else is a
bug or a framework failure and keeps its traceback. `--debug` (or MINDCV_RESNETV2_DEBUG=1) prints the traceback
of the one-line errors too.
"""
import os
import sys
import traceback

from ..config import ConfigError, parse_args
from ..config.parser import DEBUG_OPTION
from ..errors import UserError
from .runtime import quiet_unless_rank0
from .trainer import TrainingInterrupted, train
from .validate import validate

DEBUG_VARIABLE = "MINDCV_RESNETV2_DEBUG"
# The shell's status for a process ended by Ctrl-C (128 + SIGINT).
INTERRUPTED_STATUS = 130


def take_debug_flag(argv):
    """(debug requested, argv without --debug): the flag or MINDCV_RESNETV2_DEBUG set to anything but ''/0."""
    debug = DEBUG_OPTION in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    return debug, [arg for arg in argv if arg != DEBUG_OPTION]


def run_entry(entry, action, argv):
    quiet_unless_rank0()
    debug, argv = take_debug_flag(sys.argv[1:] if argv is None else list(argv))
    try:
        cfg = parse_args(argv, entry=entry, exit_on_error=not debug)
        return action(cfg)
    except TrainingInterrupted as exc:
        print(f"{entry}.py: {exc}", file=sys.stderr)
        sys.exit(INTERRUPTED_STATUS)
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"{entry}.py: error: {exc}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, ConfigError) else 1)


def main_train(argv=None):
    """python train.py -c recipe.yaml [--key value ...]"""
    return run_entry("train", train, argv)


def main_validate(argv=None):
    """python validate.py -c recipe.yaml --ckpt_path model.ckpt [--key value ...]"""
    return run_entry("validate", lambda cfg: validate(cfg, json_path=cfg.metrics_json or None), argv)
