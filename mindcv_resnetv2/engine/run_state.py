"""A training run's state on disk: its folder, what its checkpoints hold, and where a resumed run starts.

(`mindcv_resnetv2.checkpoint` owns the checkpoint *file*: format, record, reading, strict loading, atomic save.)

The run folder: files are `<model>-<epoch>_<steps per epoch>.ckpt` (MindCV's naming) plus `<model>_best.ckpt`.
What a file is (its epoch, its validation accuracy) is read from inside it, never parsed from its name, so
renamed, `_best` and hash-named files resume correctly. The keep policy counts files that earlier runs left in
the folder too. One run at a time trains into a folder: `RunFolderLock`.

A training checkpoint (`save_training_checkpoint`) is one file with every part a resume needs:
    <param name>               model parameters and BN statistics, exactly as `save_checkpoint(net)` writes them
    <optimizer param name>     the optimizer's own parameters (`global_step`, `learning_rate`, `moments.<param>`)
    ema.<param name>           EMA copy of the model, if any (the names MindCV's TrainStep gives its EMA weights)
    train_state.<key>          scalars of the run: epoch, step, loss scale, best metric, seed ...
Such a file loads into a bare network with `checkpoint.load_checkpoint` like any weights file.
"""
import contextlib
import dataclasses
import datetime
import errno
import fcntl
import glob
import json
import logging
import math
import os
import re
import socket

import numpy as np

from ..checkpoint import (EMA_PREFIX, TRAIN_STATE_PREFIX, CheckpointError, assign_checked, is_learning_rate,
                          is_optimizer_slot, name_list, named_values, read_checkpoint, read_record, record_path,
                          save_checkpoint, scalar_value, split_checkpoint)
from ..config import load_recipe
from ..errors import InvalidInputError, UserError

_logger = logging.getLogger("mindcv_resnetv2")

RECIPE_FILE = "recipe.yaml"
LOCK_FILE = ".train.lock"
EPOCH_FILE = re.compile(r"^(?P<model>.+)-(?P<epoch>\d+)_(?P<steps>\d+)\.ckpt$")

# train_state keys of a checkpoint that hold its epoch's metrics.csv row: the values a run reproduces, not its
# timings, so that a resumed run writes checkpoints identical to the uninterrupted run's.
METRICS_PREFIX = "metrics."
CHECKPOINTED_METRICS = ("train_loss", "lr", "val_loss", "val_top1", "val_top5")


class ResumeError(InvalidInputError):
    """A resume request that cannot be honoured: the file is missing or is not a training checkpoint."""


class RunDirectoryError(RuntimeError, UserError):
    """ckpt_save_dir holds another run's checkpoints and neither resume nor overwrite was asked for."""


class RunFolderLockedError(RunDirectoryError):
    """ckpt_save_dir is in use by another training run."""


class RunFolderLock:
    """Held by a training run (its rank 0, which writes every shared file) on its ckpt_save_dir from before its
    first file until it ends, so a second run into the folder is refused instead of mixing its files in.

    The lock is a `flock` on `LOCK_FILE`, which records the holder's pid, host and start time for the message: the
    kernel releases it when the holder dies (a crash or a kill leaves a stale file that the next run takes over).
    On a file system without flock, the recorded pid decides: a holder on this host that is no longer running is
    stale. `release()` deletes the file; it is safe to call twice.
    """

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        os.makedirs(directory, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if _held_elsewhere(fd):
                    raise RunFolderLockedError(_locked_message(directory, self.path, _holder(fd)))
                if os.path.exists(self.path) and os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    break  # else the holder released (deleted) the file between our open and our lock: retry
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": datetime.datetime.now().isoformat(timespec="seconds")}).encode())
        self.fd = fd

    def release(self):
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.remove(self.path)
        os.close(self.fd)
        self.fd = None


def _held_elsewhere(fd):
    """Whether another process holds the lock on `fd` (taking it for us when not)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
    holder = _holder(fd)  # no flock here: trust a recorded holder on another host, check one on this host
    if not holder or holder.get("pid") == os.getpid():
        return False
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True


def _holder(fd):
    """The holder recorded in the lock file ({} when empty or unreadable)."""
    try:
        content = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _locked_message(directory, path, holder):
    who = (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}" if holder
           else "a process that has not recorded itself yet")
    return (f"ckpt_save_dir '{directory}' is in use by another training run ({who}); two runs in one folder would "
            f"mix their checkpoints, recipe and metrics. Wait for it to end, or choose another --ckpt_save_dir "
            f"(if no such run exists, delete '{path}').")


def is_run_folder(directory):
    """Whether `directory` is a training run's folder (train.py wrote its RECIPE_FILE there)."""
    return os.path.isfile(os.path.join(directory, RECIPE_FILE))


def check_fresh_directory(directory, overwrite):
    """Refuse a folder holding another run's epoch checkpoints unless `overwrite` (resume skips this check)."""
    existing = epoch_checkpoints(directory) if os.path.isdir(directory) else []
    if existing and not overwrite:
        raise RunDirectoryError(
            f"ckpt_save_dir '{directory}' already holds {len(existing)} checkpoint(s) of another run "
            f"(e.g. {os.path.basename(sorted(existing)[0])}). Continue that run with --resume auto, choose another "
            f"--ckpt_save_dir, or pass --overwrite True to start anew there (old files then count towards "
            f"keep_checkpoint_max and may be deleted)."
        )


def _ema_named_values(ema):
    """EMA parameters under `ema.<param name>`, from an EMA copy of the net or MindCV-style `ema.`-named Parameters."""
    return {
        (name if name.startswith(EMA_PREFIX) else EMA_PREFIX + name): value
        for name, value in named_values(ema).items()
    }


def _state_values(net, optimizer=None, ema=None):
    """{file name: Parameter} for every part of a training checkpoint: net, EMA, optimizer (minus the net's)."""
    values = named_values(net)
    if ema is not None:
        values.update(_ema_named_values(ema))
    if optimizer is not None:
        values.update({name: p for name, p in named_values(optimizer).items() if name not in values})
    return values


def save_training_checkpoint(path, net, optimizer=None, ema=None, train_state=None):
    """One atomic file with everything needed to resume: weights, optimizer state, EMA weights, run scalars.

    optimizer: the optimizer (or the train-step cell: any Cell whose extra parameters are training state).
    ema: an EMA copy of the net (Cell) or MindCV-style `ema.`-named Parameters.
    train_state: {key: int/float/bool}, e.g. epoch, step, loss_scale, best_metric, seed.
    """
    extra = {}
    for key, value in (train_state or {}).items():
        if not isinstance(value, (bool, int, float, np.integer, np.floating)):
            raise TypeError(f"train_state['{key}'] = {value!r}: only int, float and bool values can be saved.")
        extra[TRAIN_STATE_PREFIX + key] = np.asarray(value)
    record = {"train_state": {key: scalar_value(value) for key, value in (train_state or {}).items()}}
    return save_checkpoint(_state_values(net, optimizer, ema), path, extra=extra, record=record)


def restore_training_checkpoint(path, net, optimizer=None, ema=None):
    """Restore what `save_training_checkpoint` wrote into the same objects; returns the train_state dict.

    Strict both ways: every part asked for must be in the file with matching shapes, and the file may hold
    nothing else (apart from the learning rate, rebuilt from the recipe, and the run's scalars); all checks
    pass before any value is assigned, so a bad file leaves net, optimizer and EMA untouched.
    """
    path = os.fspath(path)
    entries = read_checkpoint(path)
    # The lr schedules (one per parameter group with layer_decay) are rebuilt from the recipe (their position is
    # global_step), so a run may be resumed with a longer epoch_size; every other part must match.
    targets = {name: p for name, p in _state_values(net, optimizer, ema).items() if not is_learning_rate(name)}
    saved = {name for name in entries if not is_learning_rate(name) and not name.startswith(TRAIN_STATE_PREFIX)}
    names = saved | set(targets)

    def by_role(name):  # model weights before optimizer slots: they say best which network the file is for
        return is_optimizer_slot(name, names), name

    missing = sorted(set(targets) - saved, key=by_role)
    unexpected = sorted(saved - set(targets), key=by_role)
    if missing or unexpected:
        found = [f"it lacks {len(missing)} entries the run needs: {name_list(missing)}"] if missing else []
        if unexpected:
            found.append(f"it has {len(unexpected)} unexpected entries the run does not: {name_list(unexpected)}")
        raise CheckpointError(
            f"Cannot resume from '{path}': {'; '.join(found)}. A run resumes only from a checkpoint of the same "
            "model, class count, optimizer, freezing (freeze_backbone, freeze_stages), EMA and gradient-accumulation "
            "settings (strict); to start from its weights with other settings, use --ckpt_path instead of --resume."
        )
    values = {name: entries[name] for name in targets}
    assign_checked(targets, values, path)
    train_state = split_checkpoint(entries).train_state
    _logger.info("Resumed %d entries from '%s': %s", len(values), path, train_state)
    return train_state


def epoch_train_state(epoch, step, loss_scale, best_top1, seed, num_classes, val_top1, metrics_row):
    """The train_state saved after `epoch` (counted from 1): the counters a resume continues from, the run's
    identity (seed, class count) and the epoch's metrics.csv row (`metrics_row`, its CHECKPOINTED_METRICS)."""
    state = {
        "epoch": epoch,
        "step": step,
        "loss_scale": loss_scale,
        "best_top1": best_top1 if math.isfinite(best_top1) else -1.0,
        "seed": seed,
        "num_classes": num_classes,
    }
    if val_top1 is not None:
        state["val_top1"] = val_top1
    state.update({METRICS_PREFIX + key: metrics_row[key] for key in CHECKPOINTED_METRICS
                  if metrics_row[key] is not None})
    return state


def save_epoch_checkpoints(directory, model, steps_per_epoch, net, train_step, ema, state, best):
    """Write `<model>-<epoch>_<steps per epoch>.ckpt` holding `state`, and `<model>_best.ckpt` too when `best`;
    returns the epoch file's path."""
    path = os.path.join(directory, f"{model}-{state['epoch']}_{steps_per_epoch}.ckpt")
    save_training_checkpoint(path, net, train_step, ema, train_state=state)
    if best:
        save_training_checkpoint(os.path.join(directory, f"{model}_best.ckpt"), net, train_step, ema,
                                 train_state=state)
    return path


def read_train_state(path):
    """The `train_state` saved with a training checkpoint ({} for a plain weights file).

    The copy in the checkpoint's record (`checkpoint.read_record`) is used when the record is at least as new as
    the checkpoint, so ranking files does not read whole checkpoints; otherwise the checkpoint itself is read.
    """
    record = record_path(path)
    if os.path.isfile(record) and os.path.getmtime(record) >= os.path.getmtime(path):
        content = read_record(path)
        if "sha256" not in content:  # a run folder of an earlier version: the record is the bare train_state
            return content
        if "train_state" in content:
            return content["train_state"]
    return split_checkpoint(read_checkpoint(path)).train_state


def remove_checkpoint(path):
    """Delete a checkpoint and its record."""
    os.remove(path)
    if os.path.exists(record_path(path)):
        os.remove(record_path(path))


def epoch_checkpoints(directory):
    """Per-epoch checkpoint files (`<model>-<epoch>_<steps>.ckpt`, any model name) in `directory`, unordered."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(directory), "*.ckpt")):
        if EPOCH_FILE.match(os.path.basename(path)):
            found.append(path)
    return found


def _epoch_of(path):
    """The epoch stored in a checkpoint (or its summary); None, with a warning, for an unreadable file."""
    try:
        return int(read_train_state(path).get("epoch", -1))
    except (OSError, ValueError) as exc:  # an unreadable leftover must not block resuming from a good one
        _logger.warning("Skipping unreadable checkpoint %s while looking for the latest: %s", path, exc)
        return None


def find_latest(directory):
    """The readable checkpoint of the most advanced epoch in `directory`, judged by the epoch stored in each file.

    The candidate is read whole before it is chosen: a file damaged after its summary was written (or one cut
    short by a crash) is skipped, with a warning naming it, in favour of the next most advanced one.
    """
    epochs = {path: _epoch_of(path) for path in epoch_checkpoints(directory)}
    for path in sorted((p for p in epochs if epochs[p] is not None), key=lambda p: epochs[p], reverse=True):
        try:
            read_checkpoint(path)
        except (OSError, ValueError) as exc:
            _logger.warning("Skipping unreadable checkpoint %s (epoch %d by its summary): %s", path, epochs[path], exc)
            continue
        return path
    return None


class CheckpointKeeper:
    """Applies `ckpt_save_policy` (latest_k or top_k) with `keep_checkpoint_max` over every epoch file in the folder.

    top_k ranks files by the validation accuracy stored in them (files without one rank last); latest_k by epoch.
    """

    def __init__(self, directory, policy="latest_k", keep_max=10):
        self.directory = directory
        self.policy = policy
        self.keep_max = keep_max

    def _rank_key(self, path):
        try:
            state = read_train_state(path)
        except (OSError, ValueError):
            return (float("-inf"), -1)
        epoch = int(state.get("epoch", -1))
        if self.policy == "top_k":
            return (float(state.get("val_top1", float("-inf"))), epoch)
        return (epoch, epoch)

    def prune(self):
        """Delete the epoch files beyond the policy's keep_max; returns the deleted paths."""
        files = sorted(epoch_checkpoints(self.directory), key=self._rank_key, reverse=True)
        removed = files[self.keep_max:]
        for path in removed:
            remove_checkpoint(path)
            _logger.info("Removed checkpoint %s (%s keeps %d)", path, self.policy, self.keep_max)
        return removed


def resolve_resume(resume, directory):
    """The file to resume from: `resume` itself, or with "auto" the latest in `directory` (None: fresh start)."""
    if not resume:
        return None
    if resume == "auto":
        path = find_latest(directory) if os.path.isdir(directory) else None
        if path is None:
            _logger.info("resume: auto found no checkpoint in %s; starting a new run.", directory)
        return path
    if not os.path.isfile(resume):
        raise ResumeError(f"resume: checkpoint '{resume}' does not exist. Give an existing file or 'auto'.")
    return resume


def check_resume_matches(resume_path, directory, model, num_classes):
    """Refuse to resume a run of another model or class count, naming both, before anything is written.

    The run folder's recipe.yaml says which model trained there; the checkpoint's own run state says how many
    classes it was trained with.
    """
    recipe = os.path.join(directory, RECIPE_FILE)
    if is_run_folder(directory):
        saved_model = load_recipe(recipe).get("model")
        if saved_model and saved_model != model:
            raise ResumeError(
                f"resume: run folder '{directory}' holds a run of model {saved_model} (its {RECIPE_FILE}), but this "
                f"run is model {model}. Continue that run with `python train.py -c {recipe} --resume auto`, or "
                f"train {model} in another --ckpt_save_dir."
            )
    saved_classes = read_train_state(resume_path).get("num_classes")
    if saved_classes is not None and int(saved_classes) != num_classes:
        raise ResumeError(
            f"resume: checkpoint '{resume_path}' was trained with {int(saved_classes)} classes, but this run has "
            f"{num_classes}. Resume it on the data it was trained on, or fine-tune from it in another "
            f"--ckpt_save_dir with --ckpt_path {resume_path} (the classifier is then re-initialised)."
        )


@dataclasses.dataclass
class StartPoint:
    """Where a run starts training: epoch 0 of a new run, or where its resume checkpoint left off."""

    epoch: int = 0
    step: int = 0  # optimizer updates made before `epoch`: the position in the learning-rate schedule
    best_top1: float = float("-inf")
    metrics_row: dict = dataclasses.field(default_factory=dict)  # the resumed epoch's metrics.csv row, as saved


def resume_from(path, net, train_step, ema, updates_per_epoch, settings):
    """Restore weights, optimizer state, loss scale and EMA from the training checkpoint `path` into the run's
    objects; the StartPoint the run continues from. `settings` says what fixes `updates_per_epoch`, for the
    refusal of a resume whose schedule would not line up (`check_same_schedule`)."""
    state = restore_training_checkpoint(path, net, train_step, ema)
    check_same_schedule(path, state, updates_per_epoch, settings)
    return StartPoint(epoch=int(state["epoch"]), step=int(state.get("step", 0)),
                      best_top1=float(state.get("best_top1", float("-inf"))),
                      metrics_row={key[len(METRICS_PREFIX):]: value for key, value in state.items()
                                   if key.startswith(METRICS_PREFIX)})


def check_same_schedule(path, state, updates_per_epoch, settings):
    """The learning rate is rebuilt from the recipe and indexed by the optimizer's step: a resume with another
    number of updates per epoch (batch size, devices, accumulation, num_samples) would silently follow
    another schedule, so it is refused."""
    epoch, steps = int(state["epoch"]), state.get("step")
    if steps is None or epoch == 0 or int(steps) == epoch * updates_per_epoch:
        return
    raise ResumeError(
        f"resume: '{path}' was saved after {int(steps)} optimizer updates in {epoch} epoch(s) "
        f"({int(steps) // epoch} per epoch), but this run makes {updates_per_epoch} per epoch ({settings}), so its "
        f"learning-rate schedule would not line up. Resume with the settings of the run that wrote it (its "
        f"{RECIPE_FILE}), or start from its weights with --ckpt_path in a new --ckpt_save_dir."
    )


def interrupted_message(directory):
    """What an interrupted run tells its user: the checkpoint it can continue from, and how."""
    latest = find_latest(directory) if os.path.isdir(directory) else None
    if latest is None:
        return f"interrupted before the first checkpoint; nothing to resume in {directory}"
    recipe = os.path.join(directory, RECIPE_FILE)
    return (f"interrupted; the last checkpoint is {latest}: continue with "
            f"`python train.py -c {recipe} --resume auto`")
