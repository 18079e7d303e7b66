"""Per-step learning-rate lists for the recipe's `scheduler`, with MindCV 0.3.0's meaning of every MindCV key.

The whole schedule is computed up front as a list with one value per training step. A MindSpore optimizer
given this list reads entry `global_step` at every step, and `global_step` is part of the optimizer state saved
in checkpoints, so a resumed run continues the schedule exactly where it stopped.

Time runs in epochs: step s is at epoch s / steps_per_epoch, or at floor(s / steps_per_epoch) when
`lr_epoch_stair` is set (the lr then changes only at epoch boundaries). The schedule is

* warm-up, for the first `warmup_epochs`: linear from `warmup_factor * lr` to `lr` (`warmup_mode="linear"`),
  or held at `warmup_factor * lr` (`warmup_mode="constant"`, this project's: the paper's 0.01 warm-up for
  ResNet-110/1001);
* then, with tau = epochs since the end of warm-up and `main_epochs` = num_epochs - warmup_epochs:
  - constant: lr;
  - cosine_decay (MindCV's older name: warmup_cosine_decay): `num_cycles` cosine cycles of `decay_epochs`
    each, from the cycle's peak down to min_lr; the peak of cycle c is lr * cycle_decay**c; then min_lr;
  - polynomial_decay: lr * (1 - tau / main_epochs) ** decay_rate, reaching 0 at the end of the run (MindCV's;
    min_lr and decay_epochs are not used). Given `power` (the recipe's `polynomial_power`, this project's):
    (lr - min_lr) * (1 - tau / decay_epochs) ** power + min_lr, then min_lr;
  - one_cycle: over the main_epochs * steps_per_epoch steps after warm-up, a cosine rise from lr / div_factor
    to lr until step pct_start * steps - 1, then a cosine fall to min_lr at the last step (MindCV's, which
    refuses warm-up and lr_epoch_stair; here warm-up comes first and the stair holds each epoch's start value);
  - cyclic: `num_cycles` triangles over the main_epochs * steps_per_epoch steps after warm-up, each rising
    linearly from min_lr to lr in h = int(steps / num_cycles / 2) steps and falling back in h more (MindCV's
    triangular cyclic_lr; steps beyond 2 h num_cycles start another triangle, as in MindCV, which also refuses
    warm-up and lr_epoch_stair: here warm-up comes first and the stair holds each epoch's start value);
  - step_decay: lr * decay_rate ** floor(floor(tau) / decay_epochs);
  - exponential_decay: lr * decay_rate ** tau (decay_rate is the factor per epoch);
  - multi_step_decay: lr * decay_rate ** (number of `milestones` <= floor(tau)); milestones count epochs from
    the end of warm-up, as in MindCV.
  Step, multi-step and exponential decay do not stop at min_lr, as in MindCV.
"""
import logging
import math

from ..errors import InvalidInputError

_logger = logging.getLogger(__name__)

SCHEDULER_NAMES = ("constant", "cosine_decay", "warmup_cosine_decay", "step_decay", "multi_step_decay",
                   "exponential_decay", "polynomial_decay", "one_cycle", "cyclic")
WARMUP_MODES = ("linear", "constant")
_OLDER_NAMES = {"warmup_cosine_decay": "cosine_decay"}


def _cosine(start, end, fraction):
    """Half a cosine from `start` (fraction 0) to `end` (fraction 1)."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * fraction))


def _check(condition, name, value, accepted):
    if not condition:
        raise InvalidInputError(f"create_scheduler: {name}={value!r} is invalid; expected {accepted}")


def min_lr_problem(lr, min_lr):
    """Why `min_lr` cannot go with `lr` (the schedule falls from lr to min_lr), or None when it can."""
    if min_lr < 0:
        return f"min_lr {min_lr} is negative; give a number in [0, lr={lr}]"
    if min_lr > lr:
        return f"min_lr {min_lr} is above lr {lr}; lower min_lr"
    return None


def schedule_overrun(scheduler, warmup_epochs, decay_epochs, num_epochs, num_cycles=1, power=None):
    """A warning text when warm-up plus the decay span of `scheduler` is longer than the run (the schedule is
    cut off before it reaches min_lr), else None. Only cosine_decay and polynomial_decay with `power` set end
    after `decay_epochs`; the other schedules span the whole run or have no end."""
    scheduler = _OLDER_NAMES.get(scheduler, scheduler)
    if scheduler == "cosine_decay":
        cycles = num_cycles
    elif scheduler == "polynomial_decay" and power is not None:
        cycles = 1
    else:
        return None
    span = warmup_epochs + decay_epochs * cycles
    if span <= num_epochs:
        return None
    times = f"{cycles} x " if cycles > 1 else ""
    fitting = max((num_epochs - warmup_epochs) // cycles, 1)
    return (f"warmup_epochs {warmup_epochs} + {times}decay_epochs {decay_epochs} = {span} is more than the "
            f"{num_epochs} epochs of the run: the {scheduler} schedule is cut off before lr reaches min_lr; "
            f"set decay_epochs to {fitting} to complete it")


def create_scheduler(steps_per_epoch, scheduler="constant", lr=0.01, min_lr=1e-6, warmup_epochs=3,
                     warmup_factor=0.0, decay_epochs=10, decay_rate=0.9, milestones=None, num_epochs=200,
                     num_cycles=1, cycle_decay=1.0, lr_epoch_stair=False, *, power=None, pct_start=0.3,
                     div_factor=25.0, warmup_mode="linear"):
    """Learning rates for every step of a `num_epochs`-epoch run, as a list of floats (see the module docstring).

    The positional parameters and their defaults are MindCV 0.3.0's; given MindCV's arguments only, the list
    equals mindcv.scheduler.create_scheduler's. The keyword-only ones are this project's.
    Raises ValueError naming the bad argument, e.g. an unknown scheduler name (the message lists the valid ones).
    """
    if scheduler not in SCHEDULER_NAMES:
        raise InvalidInputError(f"unknown scheduler {scheduler!r}; valid names: {', '.join(SCHEDULER_NAMES)}")
    scheduler = _OLDER_NAMES.get(scheduler, scheduler)
    _check(isinstance(steps_per_epoch, int) and steps_per_epoch >= 1, "steps_per_epoch", steps_per_epoch,
           "an int >= 1")
    _check(isinstance(num_epochs, int) and num_epochs >= 1, "num_epochs", num_epochs, "an int >= 1")
    _check(lr >= 0, "lr", lr, "a number >= 0")
    problem = min_lr_problem(lr, min_lr)
    if problem:
        raise InvalidInputError(f"create_scheduler: {problem}")
    _check(isinstance(warmup_epochs, int) and warmup_epochs >= 0, "warmup_epochs", warmup_epochs, "an int >= 0")
    _check(0 <= warmup_factor <= 1, "warmup_factor", warmup_factor, "a number in [0, 1]")
    _check(warmup_mode in WARMUP_MODES, "warmup_mode", warmup_mode, f"one of {', '.join(WARMUP_MODES)}")
    main_epochs = max(num_epochs - warmup_epochs, 0)
    main_steps = main_epochs * steps_per_epoch
    if scheduler in ("cosine_decay", "step_decay") or (scheduler == "polynomial_decay" and power is not None):
        _check(decay_epochs > 0, "decay_epochs", decay_epochs, f"a number > 0 for scheduler {scheduler}")
    if scheduler in ("step_decay", "exponential_decay", "multi_step_decay", "polynomial_decay"):
        _check(decay_rate > 0, "decay_rate", decay_rate, f"a number > 0 for scheduler {scheduler}")
    if scheduler == "polynomial_decay" and power is not None:
        _check(power > 0, "power", power, "a number > 0 (or None for MindCV's power = decay_rate)")
    if scheduler == "multi_step_decay":
        _check(milestones is not None and len(milestones) > 0 and list(milestones) == sorted(milestones),
               "milestones", milestones, "a non-empty increasing list of epochs for scheduler multi_step_decay")
    if scheduler in ("cosine_decay", "cyclic"):
        _check(isinstance(num_cycles, int) and num_cycles >= 1, "num_cycles", num_cycles, "an int >= 1")
    if scheduler == "cosine_decay":
        _check(cycle_decay > 0, "cycle_decay", cycle_decay, "a number > 0")
    if scheduler == "cyclic":
        _check(main_steps == 0 or main_steps >= 2 * num_cycles, "num_epochs", num_epochs,
               f"enough epochs after warm-up for 2 steps per cycle of cyclic ({num_cycles} cycles)")
    if scheduler == "one_cycle":
        _check(0 < pct_start < 1, "pct_start", pct_start, "a number in (0, 1)")
        _check(div_factor >= 1, "div_factor", div_factor, "a number >= 1")
        _check(main_steps == 0 or pct_start * main_steps > 1, "num_epochs", num_epochs,
               f"enough epochs after warm-up for more than 1 / pct_start = {1 / pct_start:g} steps of one_cycle")
    overrun = schedule_overrun(scheduler, warmup_epochs, decay_epochs, num_epochs, num_cycles, power)
    if overrun:
        _logger.warning(overrun)

    def decayed(tau):
        """The lr `tau` epochs after warm-up."""
        if scheduler == "constant":
            return lr
        if scheduler == "cosine_decay":
            cycle = int(tau // decay_epochs)
            if cycle >= num_cycles:
                return min_lr
            return _cosine(lr * cycle_decay ** cycle, min_lr, tau / decay_epochs - cycle)
        if scheduler == "polynomial_decay":
            if power is None:
                return lr * (1.0 - tau / main_epochs) ** decay_rate
            return (lr - min_lr) * max(1.0 - tau / decay_epochs, 0.0) ** power + min_lr
        if scheduler == "one_cycle":
            step, rise_end = tau * steps_per_epoch, pct_start * main_steps - 1
            if step <= rise_end:
                return _cosine(lr / div_factor, lr, step / rise_end)
            return _cosine(lr, min_lr, (step - rise_end) / (main_steps - 1 - rise_end))
        if scheduler == "cyclic":
            position = 1.0 + tau * steps_per_epoch / (2 * int(main_steps / num_cycles / 2))
            fraction = position - math.floor(position)
            rise = fraction / 0.5 if fraction <= 0.5 else (fraction - 1.0) / -0.5
            return min_lr + (lr - min_lr) * rise
        if scheduler == "step_decay":
            return lr * decay_rate ** math.floor(math.floor(tau) / decay_epochs)
        if scheduler == "exponential_decay":
            return lr * decay_rate ** tau
        return lr * decay_rate ** sum(1 for milestone in milestones if milestone <= math.floor(tau))

    rates = []
    for step in range(num_epochs * steps_per_epoch):
        epoch = step // steps_per_epoch if lr_epoch_stair else step / steps_per_epoch
        if epoch < warmup_epochs:
            rise = 0.0 if warmup_mode == "constant" else (1.0 - warmup_factor) * epoch / warmup_epochs
            rates.append(lr * (warmup_factor + rise))
        else:
            rates.append(float(decayed(epoch - warmup_epochs)))
    return rates
