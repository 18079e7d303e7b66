"""Command-line entry points: parse the recipe, run, and turn the errors a user can fix into one clear line."""
import logging
import sys

from ..config import ConfigError, parse_args
from ..data import DownloadError, UnreadableImageError
from ..utils.files import WriteError
from .runtime import LaunchError, quiet_unless_rank0
from .trainer import RunDirectoryError, TrainingDiverged, TrainingInterrupted, train
from .validate import validate

# Errors whose message already says what to do: shown without a traceback, exit status 1 (2 for recipe errors).
USER_ERRORS = (FileNotFoundError, ValueError, LaunchError, RunDirectoryError, TrainingDiverged,
               UnreadableImageError, DownloadError, WriteError)
# The shell's status for a process ended by Ctrl-C (128 + SIGINT).
INTERRUPTED_STATUS = 130


def run_entry(entry, action, argv):
    quiet_unless_rank0()
    cfg = parse_args(argv, entry=entry, exit_on_error=True)
    try:
        return action(cfg)
    except TrainingInterrupted as exc:
        print(f"{entry}: {exc}", file=sys.stderr)
        sys.exit(INTERRUPTED_STATUS)
    except ConfigError as exc:
        print(f"{entry}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except USER_ERRORS as exc:
        logging.getLogger("mindcv_resnetv2").debug("failure", exc_info=True)
        print(f"{entry}: error: {exc}", file=sys.stderr)
        sys.exit(1)


def main_train(argv=None):
    """python train.py -c recipe.yaml [--key value ...]"""
    return run_entry("train", train, argv)


def main_validate(argv=None):
    """python validate.py -c recipe.yaml --ckpt_path model.ckpt [--key value ...]"""
    return run_entry("validate", lambda cfg: validate(cfg, json_path=cfg.metrics_json or None), argv)
