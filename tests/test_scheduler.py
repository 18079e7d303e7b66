"""Per-step learning-rate schedules: values at the steps where each schedule changes shape."""
import logging
import math

import pytest

from mindcv_resnetv2.optim import create_scheduler
from mindcv_resnetv2.optim.scheduler import SCHEDULER_NAMES


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_one_float_per_step(name):
    rates = create_scheduler(7, name, lr=0.5, num_epochs=3, decay_epochs=2, milestones=[1])
    assert len(rates) == 21
    assert all(isinstance(rate, float) and 0.0 <= rate <= 0.5 for rate in rates)


def test_linear_warmup_from_factor_to_lr_then_cosine():
    rates = create_scheduler(10, "cosine_decay", lr=1.0, min_lr=0.01, warmup_epochs=2, warmup_factor=0.1,
                             decay_epochs=4, num_epochs=8)
    assert rates[0] == pytest.approx(0.1)
    assert rates[10] == pytest.approx(0.55)  # halfway through warm-up
    assert rates[19] == pytest.approx(0.1 + 0.9 * 19 / 20)
    assert rates[20] == pytest.approx(1.0)  # warm-up ends at lr, the cosine starts there
    assert rates[40] == pytest.approx((1.0 + 0.01) / 2)  # cosine midpoint: 2 of 4 decay epochs
    assert rates[60:] == pytest.approx([0.01] * 20)  # after decay_epochs the lr holds min_lr
    assert all(a >= b for a, b in zip(rates[20:], rates[21:]))


def test_cosine_cycles_restart_at_a_decayed_peak():
    rates = create_scheduler(4, "cosine_decay", lr=1.0, decay_epochs=2, num_cycles=2, cycle_decay=0.5,
                             num_epochs=5)
    assert rates[0] == pytest.approx(1.0)
    assert rates[4] == pytest.approx(0.5)  # middle of cycle 1
    assert rates[8] == pytest.approx(0.5)  # cycle 2 starts at lr * cycle_decay
    assert rates[12] == pytest.approx(0.25)
    assert rates[16:] == pytest.approx([0.0] * 4)


def test_step_decay_every_decay_epochs():
    rates = create_scheduler(10, "step_decay", lr=1.0, decay_epochs=3, decay_rate=0.1, num_epochs=7)
    assert rates[29] == pytest.approx(1.0)
    assert rates[30] == pytest.approx(0.1)
    assert rates[59] == pytest.approx(0.1)
    assert rates[60] == pytest.approx(0.01)


def test_multi_step_milestones_count_epochs_from_the_start_of_training():
    """The paper's CIFAR schedule: 0.01 warm-up epoch, lr 0.1, x0.1 at epochs 81 and 122, 164 epochs."""
    rates = create_scheduler(391, "multi_step_decay", lr=0.1, warmup_epochs=1, warmup_factor=0.1,
                             milestones=[81, 122], decay_rate=0.1, num_epochs=164, lr_epoch_stair=True)
    assert len(rates) == 164 * 391
    assert rates[:391] == pytest.approx([0.01] * 391)
    assert rates[391] == pytest.approx(0.1)
    assert rates[81 * 391 - 1] == pytest.approx(0.1)
    assert rates[81 * 391] == pytest.approx(0.01)
    assert rates[122 * 391 - 1] == pytest.approx(0.01)
    assert rates[122 * 391] == pytest.approx(0.001)
    assert rates[-1] == pytest.approx(0.001)


def test_exponential_and_polynomial_decay():
    exponential = create_scheduler(4, "exponential_decay", lr=1.0, decay_epochs=2, decay_rate=0.25, num_epochs=4)
    assert exponential[4] == pytest.approx(0.5)  # one epoch = half a decay period: 0.25 ** 0.5
    assert exponential[8] == pytest.approx(0.25)
    polynomial = create_scheduler(4, "polynomial_decay", lr=1.0, min_lr=0.2, decay_epochs=2, power=2.0,
                                  num_epochs=3)
    assert polynomial[4] == pytest.approx(0.8 * 0.25 + 0.2)
    assert polynomial[8:] == pytest.approx([0.2] * 4)


def test_one_cycle_rises_to_lr_at_pct_start_then_falls_to_min_lr():
    rates = create_scheduler(10, "one_cycle", lr=1.0, min_lr=0.001, decay_epochs=10, pct_start=0.3,
                             div_factor=25.0, num_epochs=10)
    assert rates[0] == pytest.approx(1.0 / 25)
    assert max(rates) == pytest.approx(1.0)
    assert rates.index(max(rates)) == 30
    assert rates[65] == pytest.approx((1.0 + 0.001) / 2)  # midpoint of the fall
    assert rates[-1] == pytest.approx(0.001, abs=1e-3)


def test_lr_epoch_stair_holds_the_epoch_start_value():
    smooth = create_scheduler(5, "cosine_decay", lr=1.0, warmup_epochs=1, decay_epochs=3, num_epochs=4)
    stair = create_scheduler(5, "cosine_decay", lr=1.0, warmup_epochs=1, decay_epochs=3, num_epochs=4,
                             lr_epoch_stair=True)
    for epoch in range(4):
        assert stair[epoch * 5:(epoch + 1) * 5] == pytest.approx([smooth[epoch * 5]] * 5)
    assert stair[10] == pytest.approx(0.5 * (1 + math.cos(math.pi / 3)))
    assert len(set(smooth[5:10])) == 5


def test_unknown_scheduler_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown scheduler 'cosine'.*cosine_decay.*one_cycle"):
        create_scheduler(10, "cosine")


@pytest.mark.parametrize("kwargs, bad_name", [
    ({"scheduler": "multi_step_decay"}, "milestones"),
    ({"scheduler": "multi_step_decay", "milestones": [5, 2]}, "milestones"),
    ({"min_lr": 0.5, "lr": 0.1}, "min_lr"),
    ({"warmup_factor": 2.0}, "warmup_factor"),
    ({"num_cycles": 0}, "num_cycles"),
    ({"steps_per_epoch": 0}, "steps_per_epoch"),
])
def test_bad_arguments_name_the_argument(kwargs, bad_name):
    arguments = {"steps_per_epoch": 2, "num_epochs": 4, "decay_epochs": 4, **kwargs}
    with pytest.raises(ValueError, match=bad_name):
        create_scheduler(**arguments)


def test_warns_when_warmup_and_decay_do_not_fit_the_run(caplog):
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.optim.scheduler"):
        rates = create_scheduler(2, "cosine_decay", lr=1.0, warmup_epochs=2, decay_epochs=10, num_epochs=6)
    assert "exceeds num_epochs" in caplog.text and "decay_epochs to 4" in caplog.text
    assert rates[-1] > 0.5  # cut off: still far from min_lr


def test_constant_warmup_holds_then_jumps():
    # The paper's ResNet-110/1001 warm-up: 0.01 (= 0.1 x 0.1) for the first epoch, then 0.1.
    rates = create_scheduler(10, scheduler="multi_step_decay", lr=0.1, warmup_epochs=1, warmup_factor=0.1,
                             warmup_mode="constant", milestones=[81, 122], decay_rate=0.1, num_epochs=164)
    assert rates[:10] == [pytest.approx(0.01)] * 10
    assert rates[10] == pytest.approx(0.1) and rates[810] == pytest.approx(0.01) and rates[-1] == pytest.approx(0.001)
    with pytest.raises(ValueError, match="warmup_mode"):
        create_scheduler(10, warmup_mode="cosine", num_epochs=2, decay_epochs=2)
