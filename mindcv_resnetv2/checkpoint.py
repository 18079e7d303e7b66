"""Reading, checking, loading and atomically saving MindSpore checkpoints (.ckpt and .safetensors).

One module serves train, validate, `create_model(checkpoint_path=...)` and the weight converters, so every
path into a network gets the same guarantees:

* a file is fully validated before any parameter is assigned: an error never leaves a network half-loaded;
* loading is strict: missing and unexpected names and shape mismatches are errors naming the parameters;
* entries that are not model weights are recognised and ignored: optimizer slots (`moments.*`, `moment1.*`,
  `adam_m.*`, ...), training counters (`learning_rate`, `global_step`, `scale_sense`, ...), our own
  `train_state.*` values, and EMA weights (`ema.*`, MindCV's naming) unless `use_ema=True` picks them;
* a different class count in the classifier (fine-tuning) drops the checkpoint's classifier, and a first
  convolution of another input channel count is adapted when the caller names it (`adapt_first_conv`);
* a save never leaves a truncated file under the final name and the file stays writable by its owner;
* every save records the file's sha256 in `<file>.json` beside it (with whatever the caller adds: a training
  checkpoint's run state), and every read checks the file against that record when there is one; .ckpt files
  also carry MindSpore's CRC.

What a training checkpoint holds besides the weights (optimizer, EMA, `train_state.*`) is the run's business:
`engine.run_state` writes and restores it; this module only recognises those entries as not being weights.
"""
import contextlib
import dataclasses
import importlib
import json
import logging
import os
import re

import mindspore as ms
import numpy as np

from .errors import InvalidInputError, MissingFileError
from .utils.files import atomic_output, file_digest, is_stream, new_file_mode, write_text_atomic
from .utils.finite import host_array, nonfinite_names

_logger = logging.getLogger(__name__)

EMA_PREFIX = "ema."
RECORD_SUFFIX = ".json"
TRAIN_STATE_PREFIX = "train_state."
FORMAT_BY_EXTENSION = {".ckpt": "ckpt", ".safetensors": "safetensors"}

# Scalar training-state entries that MindSpore's optimizers, loss-scale cells, callbacks and MindCV's TrainStep
# save beside the weights. Per-parameter optimizer slots ("<slot>.<param name>") are recognised by shape of name.
TRAINING_SCALAR_NAMES = frozenset(
    {
        "global_step",
        "momentum",
        "weight_decay",
        "beta1_power",
        "beta2_power",
        "scale_sense",
        "loss_scale_good_steps",
        "loss_scale",
        "current_iterator_step",
        "last_overflow_iterator_step",
        "epoch_num",
        "step_num",
        "updates",
    }
)

# The learning rate an optimizer saves: one entry, or one per parameter group with its own lr (layer_decay).
_LEARNING_RATE = re.compile(r"^learning_rate(?:_group_\d+)?$")

# MindCV names published weights "<model>-<first 8 hex digits of sha256>[-suffix].ckpt".
_HASH_IN_NAME = re.compile(r"-(?P<prefix>[0-9a-f]{8})(?:-[^.]+)?\.(?:ckpt|safetensors)$")
_MAX_LISTED_NAMES = 10


class CheckpointError(InvalidInputError):
    """A checkpoint file that cannot be used: unreadable, corrupted, hash mismatch, or not matching the network."""


@dataclasses.dataclass
class CheckpointParts:
    """The entries of one checkpoint file, sorted by role (see the module docstring for the layout)."""

    model: dict
    ema: dict
    optimizer: dict
    train_state: dict
    unknown: dict


def name_list(names):
    """Names for an error message, in the order given: all of them up to a limit, then how many more."""
    names = list(names)
    shown = ", ".join(names[:_MAX_LISTED_NAMES])
    if len(names) > _MAX_LISTED_NAMES:
        shown += f", ... ({len(names) - _MAX_LISTED_NAMES} more)"
    return shown


def checkpoint_format(path):
    """'ckpt' or 'safetensors' from the file extension; anything else is an error naming the path."""
    ext = os.path.splitext(path)[1]
    if ext not in FORMAT_BY_EXTENSION:
        raise CheckpointError(
            f"Checkpoint path '{path}' has extension '{ext}'; expected one of {', '.join(FORMAT_BY_EXTENSION)}."
        )
    return FORMAT_BY_EXTENSION[ext]


def hash_in_name(path):
    """The sha256 prefix a MindCV-style file name carries (`resnetv2_50-3c2f143b.ckpt` -> '3c2f143b'), else None."""
    match = _HASH_IN_NAME.search(os.path.basename(path))
    return match.group("prefix") if match else None


def verify_hash_in_name(path):
    """If the file name carries a sha256 prefix in MindCV's style, check the content matches it."""
    expected = hash_in_name(path)
    if not expected:
        return
    actual = file_digest(path, "sha256")
    if not actual.startswith(expected):
        raise CheckpointError(
            f"Checkpoint '{path}' is named for sha256 {expected}... but its content hashes to {actual[:8]}... "
            f"(full: {actual}). The file is corrupted or incomplete (a partial download?): fetch it again. "
            "If those 8 hex digits are not a hash, rename the file or pass verify_hash=False."
        )


def record_path(path):
    """The JSON record beside a checkpoint: `<file>.json`."""
    return os.fspath(path) + RECORD_SUFFIX


def read_record(path):
    """The record of a checkpoint ({} when it has none): its `sha256` and, for a training checkpoint, its
    `train_state`. (Run folders of earlier versions hold a bare train_state there, without sha256.)"""
    record = record_path(path)
    if not os.path.isfile(record):
        return {}
    try:
        with open(record, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError) as exc:
        content = exc
    if not isinstance(content, dict):
        raise CheckpointError(f"Checkpoint record '{record}' is unreadable ({content}): delete it to use "
                              f"'{path}' without checking its sha256.")
    return content


def verify_record(path):
    """If the checkpoint has a record, check the file still has the sha256 it was saved with."""
    expected = read_record(path).get("sha256")
    if expected is None:
        return
    actual = file_digest(path, "sha256")
    if actual != expected:
        raise CheckpointError(
            f"Checkpoint '{path}' has sha256 {actual}, but it was saved with sha256 {expected} (its record "
            f"'{record_path(path)}'): the file was damaged since (disk, copy or transfer). Use another checkpoint, "
            "e.g. an earlier epoch's; if you replaced the file on purpose, delete the record."
        )


def _to_numpy(value):
    """A checkpoint value as numpy (bfloat16 widened to float32, which numpy lacks); strings stay strings."""
    return value if isinstance(value, str) else host_array(value)


def read_checkpoint(path, verify_hash=True):
    """All entries of a .ckpt or .safetensors file as {name: numpy array (or str)}, after checking the file.

    Errors name the path: missing file, unknown extension, sha256 not matching a hash-named file or the file's
    record, unreadable, truncated or damaged content.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        reason = "is a directory, not a file" if os.path.isdir(path) else "does not exist"
        raise MissingFileError(f"Checkpoint file '{path}' {reason}.")
    fmt = checkpoint_format(path)
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"Checkpoint file '{path}' is empty (0 bytes): a save or download that never "
                              "completed. Use another checkpoint, or fetch or train it again.")
    if verify_hash:
        verify_hash_in_name(path)
    verify_record(path)
    try:
        with _without_mindspore_failure_line(path):
            entries = ms.load_checkpoint(path, format=fmt, **_crc(fmt))
    except Exception as exc:  # MindSpore raises ValueError/RuntimeError for bad protobuf or safetensors headers
        raise CheckpointError(
            f"Cannot read checkpoint '{path}' as {fmt}: {exc}. The file is unreadable, truncated or damaged "
            "(a partial download or an interrupted save?)."
        ) from exc
    entries = {name: _to_numpy(value) for name, value in entries.items()}
    nonfinite = nonfinite_names(entries)
    if nonfinite:
        raise CheckpointError(
            f"Checkpoint '{path}' holds NaN/Inf values in {len(nonfinite)} tensors: {name_list(nonfinite)}. It was "
            "saved after its training diverged; use a checkpoint from before that (an earlier epoch's)."
        )
    return entries


def is_learning_rate(name):
    """True for a saved learning rate: 'learning_rate', or 'learning_rate_group_<n>' of a parameter group."""
    return bool(_LEARNING_RATE.match(name))


def is_optimizer_slot(name, weight_names):
    """True for a per-parameter optimizer slot: '<slot>.<weight name>', e.g. 'moments.layer1.0.conv1.weight'."""
    slot, _, weight_name = name.partition(".")
    return bool(slot) and weight_name in weight_names


def split_checkpoint(entries, model_names=None):
    """Sort checkpoint entries by role: model weights, EMA weights (prefix removed), optimizer state, run state.

    `model_names` are the parameter names of the target network; without it, every name that is not
    recognisably something else counts as a model weight. Names matching nothing known go to `unknown`.
    """
    ema = {name[len(EMA_PREFIX):]: value for name, value in entries.items() if name.startswith(EMA_PREFIX)}
    train_state = {
        name[len(TRAIN_STATE_PREFIX):]: scalar_value(value)
        for name, value in entries.items()
        if name.startswith(TRAIN_STATE_PREFIX)
    }
    rest = {
        name: value
        for name, value in entries.items()
        if not name.startswith(EMA_PREFIX) and not name.startswith(TRAIN_STATE_PREFIX)
    }
    weight_names = set(model_names) if model_names is not None else set(rest) | set(ema)
    model, optimizer, unknown = {}, {}, {}
    for name, value in rest.items():
        if model_names is not None and name in weight_names:
            model[name] = value
        elif name in TRAINING_SCALAR_NAMES or is_learning_rate(name) or is_optimizer_slot(name, weight_names):
            optimizer[name] = value
        elif model_names is None:
            model[name] = value
        else:
            unknown[name] = value
    return CheckpointParts(model=model, ema=ema, optimizer=optimizer, train_state=train_state, unknown=unknown)


def scalar_value(value):
    """A saved 0-d/1-element array back as a Python int, float or bool."""
    if isinstance(value, str):
        return value
    return np.asarray(value).reshape(()).item()


def assign_checked(targets, values, source):
    """Copy `values` into the parameters `targets` {name: Parameter}, cast to each one's dtype, after checking every
    shape: a mismatch is an error naming each parameter with both shapes, and nothing is assigned."""
    mismatched = [
        f"{name}: checkpoint {tuple(np.shape(values[name]))} vs network {tuple(targets[name].shape)}"
        for name in sorted(values)
        if tuple(np.shape(values[name])) != tuple(targets[name].shape)
    ]
    if mismatched:
        listed = "; ".join(mismatched[:_MAX_LISTED_NAMES])
        more = f"; ... ({len(mismatched) - _MAX_LISTED_NAMES} more)" if len(mismatched) > _MAX_LISTED_NAMES else ""
        raise CheckpointError(f"Shape mismatch loading '{source}' ({len(mismatched)} parameters): {listed}{more}.")
    for name, value in values.items():
        param = targets[name]
        param.set_data(ms.Tensor(np.asarray(value), dtype=param.dtype))


def _mismatched_classifier(model_values, targets, classifier_name):
    """Names of the classifier entries to drop because only the class count differs (fine-tuning), else []."""
    weight_name, bias_name = f"{classifier_name}.weight", f"{classifier_name}.bias"
    if weight_name not in model_values or weight_name not in targets:
        return []
    saved, wanted = np.shape(model_values[weight_name]), tuple(targets[weight_name].shape)
    if saved == wanted or saved[1:] != wanted[1:]:
        return []
    return [weight_name] + ([bias_name] if bias_name in model_values else [])


def adapt_first_conv(values, targets, first_conv, source):
    """Fit the first convolution's weight to the network's input channel count (fine-tuning), in place.

    Checkpoint 1 channel, network N: the kernel repeated N times and divided by N, so a gray image copied into N
    channels gives the outputs the 1-channel network gave. Checkpoint 3 channels, network 1: summed over the
    channels, so the network on a gray image gives what the 3-channel network gave on it copied into 3 channels
    (exact for plain convolutions; a weight-standardised stem re-standardises the new kernel). Any other
    difference is left for the strict shape check, which names the tensor and both shapes. One log line says
    what was done.
    """
    name = f"{first_conv}.weight"
    if name not in values or name not in targets:
        return
    saved, wanted = np.shape(values[name]), tuple(targets[name].shape)
    if len(saved) != 4 or saved == wanted or (saved[0],) + saved[2:] != (wanted[0],) + wanted[2:]:
        return
    kernel = np.asarray(values[name])
    if saved[1] == 1:
        values[name] = np.repeat(kernel, wanted[1], axis=1) / wanted[1]
        how = f"repeated over {wanted[1]} input channels and divided by {wanted[1]}"
    elif saved[1] == 3 and wanted[1] == 1:
        values[name] = kernel.sum(axis=1, keepdims=True)
        how = "summed over its 3 input channels"
    else:
        return
    _logger.warning("Checkpoint '%s' has %s for %d input channels, the network %d: %s %s -> %s (fine-tuning).",
                    source, name, saved[1], wanted[1], how, saved, wanted)


def load_state_dict(
    net,
    entries,
    source="<state dict>",
    strict=True,
    use_ema=False,
    num_classes_mismatch="reinit",
    classifier_name="classifier",
    first_conv=None,
):
    """Load checkpoint entries {name: array} into `net`, validating everything before assigning anything.

    strict: missing or unexpected names are errors (non-strict: logged as a warning naming them).
    use_ema: take the `ema.`-prefixed weights instead of the raw ones (error if the file has none).
    num_classes_mismatch: "reinit" drops a classifier whose class count differs (fine-tuning), "error" refuses.
    first_conv: the name of the network's first convolution (its default_cfg's 'first_conv'), to adapt its
    kernel to another input channel count (`adapt_first_conv`); None: no adaptation.
    Other shape mismatches are always errors. What was loaded, ignored, adapted and dropped is logged.
    Returns the names of the dropped classifier entries ([] when the checkpoint's classifier was loaded).
    """
    if num_classes_mismatch not in ("reinit", "error"):
        raise ValueError(f"num_classes_mismatch must be 'reinit' or 'error', got {num_classes_mismatch!r}.")
    targets = net.parameters_dict()
    parts = split_checkpoint(entries, model_names=targets)
    if use_ema:
        if not parts.ema:
            raise CheckpointError(
                f"use_ema=True but '{source}' holds no EMA weights (no '{EMA_PREFIX}'-prefixed entries)."
            )
        values = _ema_values(parts, targets, source)
        ignored_weights = list(parts.model)
        stray = [EMA_PREFIX + name for name in parts.ema if name not in targets]
    else:
        values = dict(parts.model)
        ignored_weights = [EMA_PREFIX + name for name in parts.ema]
        stray = []
    ignored = sorted(parts.optimizer) + [TRAIN_STATE_PREFIX + n for n in parts.train_state] + ignored_weights

    if first_conv is not None:
        adapt_first_conv(values, targets, first_conv, source)
    dropped = _mismatched_classifier(values, targets, classifier_name) if num_classes_mismatch == "reinit" else []
    dropped_values = {name: values.pop(name) for name in dropped}
    missing = sorted(set(targets) - set(values) - set(dropped))
    unexpected = sorted(list(parts.unknown) + stray)
    if strict and (missing or unexpected):
        raise CheckpointError(_strict_message(source, missing, unexpected, parts, use_ema))
    if missing or unexpected:
        _logger.warning(
            "Non-strict load of '%s': %d missing (%s), %d unexpected (%s).",
            source,
            len(missing),
            name_list(missing),
            len(unexpected),
            name_list(unexpected),
        )
    assign_checked(targets, values, source)
    if dropped:
        _logger.warning(
            "Checkpoint classifier '%s' has %d classes, the network %d: dropped %s from '%s'; "
            "the network keeps its freshly initialised classifier (fine-tuning).",
            classifier_name,
            np.shape(dropped_values[dropped[0]])[0],
            targets[dropped[0]].shape[0],
            ", ".join(dropped),
            source,
        )
    _logger.info(
        "Loaded %d parameters from '%s'%s; ignored %d non-model entries.",
        len(values),
        source,
        " (EMA weights)" if use_ema else "",
        len(ignored),
    )
    return dropped


def _ema_values(parts, targets, source):
    """EMA weights for the network; names the EMA lacks but the raw weights have are taken raw, with a log line."""
    values = {name: value for name, value in parts.ema.items() if name in targets}
    from_raw = [name for name in targets if name not in values and name in parts.model]
    if from_raw:
        _logger.info(
            "'%s' has no EMA copy of %d parameters (%s): using their raw values.",
            source,
            len(from_raw),
            name_list(sorted(from_raw)),
        )
        values.update({name: parts.model[name] for name in from_raw})
    return values


def _strict_message(source, missing, unexpected, parts, use_ema):
    """The strict-load error: every missing and unexpected name (truncated), plus the likely cause."""
    lines = [f"Checkpoint '{source}' does not match the network (strict load)."]
    if missing:
        lines.append(f"Missing from the checkpoint ({len(missing)}): {name_list(missing)}.")
    if unexpected:
        lines.append(f"Unexpected in the checkpoint ({len(unexpected)}): {name_list(unexpected)}.")
    if missing and not parts.model and parts.ema and not use_ema:
        lines.append(f"The file holds only '{EMA_PREFIX}' weights: pass use_ema=True.")
    elif missing and not unexpected:
        lines.append("A file cut short (partial download or interrupted save) also loses its last entries.")
    elif missing and unexpected:
        lines.append("Is the checkpoint for another model (or another layout: resnetv2_* vs preact_resnet*)?")
    lines.append("Give the checkpoint of this model as --ckpt_path, or set --model (and --num_classes) to what "
                 "the checkpoint was trained as; from Python, load_checkpoint(..., strict=False) loads the "
                 "matching entries only.")
    return " ".join(lines)


def load_checkpoint(
    net,
    path,
    strict=True,
    use_ema=False,
    num_classes_mismatch="reinit",
    classifier_name="classifier",
    verify_hash=True,
    first_conv=None,
):
    """Read a .ckpt/.safetensors file and load it into `net`; see `read_checkpoint` and `load_state_dict`."""
    entries = read_checkpoint(path, verify_hash=verify_hash)
    load_state_dict(
        net,
        entries,
        source=os.fspath(path),
        strict=strict,
        use_ema=use_ema,
        num_classes_mismatch=num_classes_mismatch,
        classifier_name=classifier_name,
        first_conv=first_conv,
    )


def _as_tensor(value):
    """A Parameter, Tensor, numpy array or Python number as something MindSpore can save."""
    if isinstance(value, (ms.Parameter, ms.Tensor)):
        return value
    return ms.Tensor(np.asarray(value))


def named_values(params):
    """{name: value} from a Cell, a dict, or an iterable of Parameters (e.g. a ParameterTuple)."""
    if isinstance(params, ms.nn.Cell):
        return {p.name: p for p in params.get_parameters()}
    if isinstance(params, dict):
        return dict(params)
    return {p.name: p for p in params}


def _crc(fmt):
    """MindSpore's own checksum, for the format that has one: it also guards a file copied without its record."""
    return {"crc_check": True} if fmt == "ckpt" else {}


def save_checkpoint(params, path, extra=None, record=None):
    """Atomically write `params` (Cell, {name: value} or Parameters) plus `extra` {name: value} to `path`.

    The format follows the extension (.ckpt or .safetensors). MindSpore writes a temporary file in the same
    directory, which is flushed to disk and then renamed over `path` (`utils.files.atomic_output`): a crash or a
    full disk mid-save leaves the previous file intact and no temporary behind; a full disk is a `WriteError`
    naming the file. The result is readable and writable by its owner (MindSpore alone makes 0400).
    Then the record `<path>.json` ({"sha256": ..., **record}) is written, atomically too; the previous record is
    removed before the new file lands, so a crash between the two leaves a file without a record, never a file
    with another file's record.
    """
    path = os.fspath(path)
    fmt = checkpoint_format(path)
    values = named_values(params)
    for name, value in (extra or {}).items():
        if name in values:
            raise ValueError(f"Extra checkpoint entry '{name}' collides with a parameter of the same name.")
        values[name] = value
    entries = [{"name": name, "data": _as_tensor(value)} for name, value in values.items()]
    nonfinite = nonfinite_names({entry["name"]: host_array(entry["data"]) for entry in entries})
    if nonfinite:
        raise CheckpointError(
            f"Refusing to save checkpoint '{path}': {len(nonfinite)} tensors hold NaN/Inf values "
            f"({name_list(nonfinite)}): the weights diverged. Nothing was written and earlier checkpoints are kept; "
            "lower lr, enable clip_grad, use a warm-up, or check the data."
        )

    recorded = not is_stream(os.path.abspath(path))
    with atomic_output(path, what="checkpoint") as temporary, _without_mindspore_failure_line(temporary):
        ms.save_checkpoint(entries, temporary, format=fmt, **_crc(fmt))
        os.chmod(temporary, new_file_mode())
        digest = file_digest(temporary, "sha256")
        if recorded and os.path.lexists(record_path(path)):
            os.remove(record_path(path))
    if recorded:
        write_text_atomic(record_path(path), json.dumps(dict(record or {}, sha256=digest)), what="checkpoint record")
    return path


@contextlib.contextmanager
def _without_mindspore_failure_line(name):
    """MindSpore logs an ERROR or CRITICAL line naming the file when a save or load fails (a temporary's name, or
    a misleading "May not have permission"); the error we raise names the real file and the likely cause, so that
    line would only add a second, misleading message. Its warning that a file has no CRC (every file MindCV
    publishes) is dropped too: such a file is checked by its record, when it has one."""
    get_logger = getattr(importlib.import_module("mindspore.log"), "_get_logger", None)
    if get_logger is None:
        yield
        return
    logger = get_logger()

    def keep(record):
        text = str(record.args) + str(record.msg)
        return not (record.levelno >= logging.ERROR and name in text or "do not contain the crc code" in text)

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)
