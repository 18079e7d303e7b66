"""Per-step learning-rate lists for the recipe's `scheduler`.

The whole schedule is computed up front as a list with one value per training step. A MindSpore optimizer
given this list reads entry `global_step` at every step, and `global_step` is part of the optimizer state saved
in checkpoints, so a resumed run continues the schedule exactly where it stopped.

Time runs in epochs: step s is at epoch s / steps_per_epoch, or at floor(s / steps_per_epoch) when
`lr_epoch_stair` is set (the lr then changes only at epoch boundaries). The schedule is

* warm-up, for the first `warmup_epochs`: linear from `warmup_factor * lr` to `lr` (`warmup_mode="linear"`),
  or held at `warmup_factor * lr` (`warmup_mode="constant"`: the paper's 0.01 warm-up for ResNet-110/1001);
* then, with tau = epochs since the end of warm-up:
  - constant: lr;
  - cosine_decay: `num_cycles` cosine cycles of `decay_epochs` each, from the cycle's peak down to min_lr; the
    peak of cycle c is lr * cycle_decay**c; after the last cycle, min_lr;
  - polynomial_decay: (lr - min_lr) * (1 - tau / decay_epochs) ** power + min_lr, then min_lr;
  - one_cycle: over `decay_epochs`, cosine rise from lr / div_factor to lr during the first `pct_start`
    fraction, then cosine fall to min_lr; then min_lr;
  - step_decay: lr * decay_rate ** floor(tau / decay_epochs)  (decay_epochs is the period);
  - exponential_decay: lr * decay_rate ** (tau / decay_epochs)  (the smooth form of step_decay);
  - multi_step_decay: lr * decay_rate ** (number of `milestones` <= epoch); milestones count epochs from the
    start of training (warm-up included), as in "x0.1 at epochs 81 and 122".
  The decaying schedules never go below min_lr.
"""
import logging
import math

_logger = logging.getLogger(__name__)

SCHEDULER_NAMES = ("constant", "cosine_decay", "step_decay", "multi_step_decay", "exponential_decay",
                   "polynomial_decay", "one_cycle")
WARMUP_MODES = ("linear", "constant")
# Schedules that end after their decay span (then hold min_lr): their span should fit into the run.
_FINITE_SCHEDULERS = ("cosine_decay", "polynomial_decay", "one_cycle")


def _cosine(start, end, fraction):
    """Half a cosine from `start` (fraction 0) to `end` (fraction 1)."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * fraction))


def _check(condition, name, value, accepted):
    if not condition:
        raise ValueError(f"create_scheduler: {name}={value!r} is invalid; expected {accepted}")


def create_scheduler(steps_per_epoch, scheduler="cosine_decay", lr=0.1, min_lr=0.0, warmup_epochs=0,
                     warmup_factor=0.0, decay_epochs=120, decay_rate=0.1, milestones=None, num_epochs=120,
                     num_cycles=1, cycle_decay=1.0, lr_epoch_stair=False, power=1.0, pct_start=0.3,
                     div_factor=25.0, warmup_mode="linear"):
    """Learning rates for every step of a `num_epochs`-epoch run, as a list of floats (see the module docstring).

    Raises ValueError naming the bad argument, e.g. an unknown scheduler name (the message lists the valid ones).
    """
    if scheduler not in SCHEDULER_NAMES:
        raise ValueError(f"unknown scheduler {scheduler!r}; valid names: {', '.join(SCHEDULER_NAMES)}")
    _check(isinstance(steps_per_epoch, int) and steps_per_epoch >= 1, "steps_per_epoch", steps_per_epoch,
           "an int >= 1")
    _check(isinstance(num_epochs, int) and num_epochs >= 1, "num_epochs", num_epochs, "an int >= 1")
    _check(lr >= 0, "lr", lr, "a number >= 0")
    _check(0 <= min_lr <= lr, "min_lr", min_lr, f"a number in [0, lr={lr}]")
    _check(warmup_epochs >= 0, "warmup_epochs", warmup_epochs, "a number >= 0")
    _check(0 <= warmup_factor <= 1, "warmup_factor", warmup_factor, "a number in [0, 1]")
    _check(warmup_mode in WARMUP_MODES, "warmup_mode", warmup_mode, f"one of {', '.join(WARMUP_MODES)}")
    if scheduler in _FINITE_SCHEDULERS + ("step_decay", "exponential_decay"):
        _check(decay_epochs > 0, "decay_epochs", decay_epochs, f"a number > 0 for scheduler {scheduler}")
    if scheduler in ("step_decay", "exponential_decay", "multi_step_decay"):
        _check(decay_rate > 0, "decay_rate", decay_rate, f"a number > 0 for scheduler {scheduler}")
    if scheduler == "multi_step_decay":
        _check(milestones is not None and len(milestones) > 0 and list(milestones) == sorted(milestones),
               "milestones", milestones, "a non-empty increasing list of epochs for scheduler multi_step_decay")
    if scheduler == "cosine_decay":
        _check(isinstance(num_cycles, int) and num_cycles >= 1, "num_cycles", num_cycles, "an int >= 1")
        _check(cycle_decay > 0, "cycle_decay", cycle_decay, "a number > 0")
    if scheduler == "one_cycle":
        _check(0 < pct_start < 1, "pct_start", pct_start, "a number in (0, 1)")
        _check(div_factor >= 1, "div_factor", div_factor, "a number >= 1")

    if scheduler in _FINITE_SCHEDULERS:
        cycles = num_cycles if scheduler == "cosine_decay" else 1
        if warmup_epochs + decay_epochs * cycles > num_epochs:
            _logger.warning("warmup_epochs (%s) + %d x decay_epochs (%s) exceeds num_epochs (%d): the %s schedule "
                            "is cut off before it reaches min_lr=%s; set decay_epochs to %s to complete it",
                            warmup_epochs, cycles, decay_epochs, num_epochs, scheduler, min_lr,
                            (num_epochs - warmup_epochs) / cycles)

    def decayed(tau, epoch):
        """The lr `tau` epochs after warm-up, at epoch `epoch` of the run."""
        if scheduler == "constant":
            return lr
        if scheduler == "cosine_decay":
            cycle = int(tau // decay_epochs)
            if cycle >= num_cycles:
                return min_lr
            return _cosine(lr * cycle_decay ** cycle, min_lr, tau / decay_epochs - cycle)
        if scheduler == "polynomial_decay":
            return (lr - min_lr) * max(1.0 - tau / decay_epochs, 0.0) ** power + min_lr
        if scheduler == "one_cycle":
            rise = pct_start * decay_epochs
            if tau < rise:
                return _cosine(lr / div_factor, lr, tau / rise)
            return _cosine(lr, min_lr, min((tau - rise) / (decay_epochs - rise), 1.0))
        if scheduler == "step_decay":
            value = lr * decay_rate ** math.floor(tau / decay_epochs)
        elif scheduler == "exponential_decay":
            value = lr * decay_rate ** (tau / decay_epochs)
        else:  # multi_step_decay
            value = lr * decay_rate ** sum(1 for milestone in milestones if milestone <= epoch)
        return max(value, min_lr)

    rates = []
    for step in range(num_epochs * steps_per_epoch):
        epoch = step // steps_per_epoch if lr_epoch_stair else step / steps_per_epoch
        if epoch < warmup_epochs:
            rise = 0.0 if warmup_mode == "constant" else (1.0 - warmup_factor) * epoch / warmup_epochs
            rates.append(lr * (warmup_factor + rise))
        else:
            rates.append(float(decayed(epoch - warmup_epochs, epoch)))
    return rates
