"""Per-step learning-rate schedules: values at the steps where each schedule changes shape."""
import logging
import math

import numpy as np
import pytest

from mindcv_resnetv2.config import schema
from mindcv_resnetv2.optim import create_scheduler
from mindcv_resnetv2.optim.scheduler import SCHEDULER_NAMES
from reference_nets import factory_names


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
    rates = create_scheduler(4, "cosine_decay", lr=1.0, min_lr=0.0, warmup_epochs=0, decay_epochs=2, num_cycles=2,
                             cycle_decay=0.5, num_epochs=5)
    assert rates[0] == pytest.approx(1.0)
    assert rates[4] == pytest.approx(0.5)  # middle of cycle 1
    assert rates[8] == pytest.approx(0.5)  # cycle 2 starts at lr * cycle_decay
    assert rates[12] == pytest.approx(0.25)
    assert rates[16:] == pytest.approx([0.0] * 4)


def test_step_decay_every_decay_epochs():
    rates = create_scheduler(10, "step_decay", lr=1.0, warmup_epochs=0, decay_epochs=3, decay_rate=0.1, num_epochs=7)
    assert rates[29] == pytest.approx(1.0)
    assert rates[30] == pytest.approx(0.1)
    assert rates[59] == pytest.approx(0.1)
    assert rates[60] == pytest.approx(0.01)


def test_multi_step_milestones_count_epochs_from_the_end_of_warmup():
    """The paper's CIFAR schedule: 0.01 warm-up epoch, lr 0.1, x0.1 after epochs 81 and 122 of a 164-epoch run;
    milestones count from the end of warm-up, as in MindCV."""
    rates = create_scheduler(391, "multi_step_decay", lr=0.1, warmup_epochs=1, warmup_factor=0.1,
                             milestones=[80, 121], decay_rate=0.1, num_epochs=164, lr_epoch_stair=True)
    assert len(rates) == 164 * 391
    assert rates[:391] == pytest.approx([0.01] * 391)
    assert rates[391] == pytest.approx(0.1)
    assert rates[81 * 391 - 1] == pytest.approx(0.1)
    assert rates[81 * 391] == pytest.approx(0.01)
    assert rates[122 * 391 - 1] == pytest.approx(0.01)
    assert rates[122 * 391] == pytest.approx(0.001)
    assert rates[-1] == pytest.approx(0.001)


def test_exponential_decay_is_per_epoch_and_ignores_min_lr():
    rates = create_scheduler(4, "exponential_decay", lr=1.0, min_lr=0.5, warmup_epochs=0, decay_epochs=7,
                             decay_rate=0.25, num_epochs=4)
    assert rates[2] == pytest.approx(0.5)  # half an epoch: 0.25 ** 0.5
    assert rates[4] == pytest.approx(0.25)
    assert rates[-1] == pytest.approx(0.25 ** 3.75)  # below min_lr, as in MindCV


def test_polynomial_decay_mindcv_form_spans_the_run_with_power_decay_rate():
    rates = create_scheduler(4, "polynomial_decay", lr=1.0, min_lr=0.2, warmup_epochs=1, decay_epochs=2,
                             decay_rate=2.0, num_epochs=5)
    assert rates[4] == pytest.approx(1.0)
    assert rates[12] == pytest.approx(0.5 ** 2)  # 2 of the 4 epochs after warm-up; decay_epochs is not used
    assert rates[-1] == pytest.approx((1 / 16) ** 2)  # towards 0, not min_lr


def test_polynomial_decay_with_polynomial_power_uses_decay_epochs_and_min_lr():
    rates = create_scheduler(4, "polynomial_decay", lr=1.0, min_lr=0.2, warmup_epochs=0, decay_epochs=2, power=2.0,
                             num_epochs=3)
    assert rates[4] == pytest.approx(0.8 * 0.25 + 0.2)
    assert rates[8:] == pytest.approx([0.2] * 4)


def test_one_cycle_rises_to_lr_at_pct_start_then_falls_to_min_lr():
    rates = create_scheduler(10, "one_cycle", lr=1.0, min_lr=0.001, warmup_epochs=0, pct_start=0.3, div_factor=25.0,
                             num_epochs=10)
    assert rates[0] == pytest.approx(1.0 / 25)
    assert max(rates) == pytest.approx(1.0)
    assert rates.index(max(rates)) == 29  # MindCV: the rise ends at step pct_start * steps - 1
    assert rates[64] == pytest.approx((1.0 + 0.001) / 2)  # midpoint of the fall (steps 29 to 99)
    assert rates[-1] == pytest.approx(0.001)


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
    ({"scheduler": "cosine_decay", "num_cycles": 0}, "num_cycles"),
    ({"scheduler": "cyclic", "num_cycles": 0}, "num_cycles"),
    ({"steps_per_epoch": 0}, "steps_per_epoch"),
])
def test_bad_arguments_name_the_argument(kwargs, bad_name):
    arguments = {"steps_per_epoch": 2, "num_epochs": 4, "decay_epochs": 4, **kwargs}
    with pytest.raises(ValueError, match=bad_name):
        create_scheduler(**arguments)


def test_warns_when_warmup_and_decay_do_not_fit_the_run(caplog):
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.optim.scheduler"):
        rates = create_scheduler(2, "cosine_decay", lr=1.0, warmup_epochs=2, decay_epochs=10, num_epochs=6)
    assert "more than the 6 epochs" in caplog.text and "decay_epochs to 4" in caplog.text
    assert rates[-1] > 0.5  # cut off: still far from min_lr


def test_constant_warmup_holds_then_jumps():
    # The paper's ResNet-110/1001 warm-up: 0.01 (= 0.1 x 0.1) for the first epoch, then 0.1.
    rates = create_scheduler(10, scheduler="multi_step_decay", lr=0.1, warmup_epochs=1, warmup_factor=0.1,
                             warmup_mode="constant", milestones=[80, 121], decay_rate=0.1, num_epochs=164)
    assert rates[:10] == [pytest.approx(0.01)] * 10
    assert rates[10] == pytest.approx(0.1) and rates[810] == pytest.approx(0.01) and rates[-1] == pytest.approx(0.001)
    with pytest.raises(ValueError, match="warmup_mode"):
        create_scheduler(10, warmup_mode="cosine", num_epochs=2, decay_epochs=2)


# MindCV recipe settings (configs of mindspore-lab/mindcv), each over MindCV's defaults for the keys it leaves out.
MINDCV_RECIPES = {
    "cosine, no warm-up (resnetv2_50)": dict(scheduler="cosine_decay", lr=0.1, min_lr=0.0, warmup_epochs=0,
                                             decay_epochs=120, epoch_size=120),
    "cosine, warm-up 5, factor 0.01": dict(scheduler="cosine_decay", lr=0.1, min_lr=1e-5, warmup_epochs=5,
                                           warmup_factor=0.01, decay_epochs=45, epoch_size=50),
    "cosine, stair, decay longer than the run": dict(scheduler="cosine_decay", lr=0.5, min_lr=1e-6,
                                                     warmup_epochs=4, decay_epochs=60, epoch_size=40,
                                                     lr_epoch_stair=True),
    "warmup_cosine_decay, 2 cycles, stair (crossvit)": dict(scheduler="warmup_cosine_decay", lr=0.0009,
                                                            min_lr=1e-5, warmup_epochs=3, decay_epochs=27,
                                                            num_cycles=2, cycle_decay=1.0, epoch_size=60,
                                                            lr_epoch_stair=True),
    "cosine, 4 cycles, cycle_decay 0.5": dict(scheduler="cosine_decay", lr=0.0017, min_lr=5e-6, warmup_epochs=2,
                                              decay_epochs=7, num_cycles=4, cycle_decay=0.5, epoch_size=32),
    "step_decay (res2net)": dict(scheduler="step_decay", lr=0.1, min_lr=0.0, warmup_epochs=0, decay_rate=0.1,
                                 decay_epochs=30, epoch_size=140),
    "step_decay, warm-up, defaults": dict(scheduler="step_decay", lr=0.1, epoch_size=50),
    "multi_step_decay (bit_resnet50, default warm-up 3)": dict(scheduler="multi_step_decay", lr=0.06,
                                                               decay_rate=0.5, epoch_size=90,
                                                               multi_step_decay_milestones=[30, 40, 50, 60, 70,
                                                                                            80, 85]),
    "multi_step_decay (bit_resnet50x3, warm-up 1)": dict(scheduler="multi_step_decay", lr=0.09, decay_rate=0.4,
                                                         warmup_epochs=1, epoch_size=90,
                                                         multi_step_decay_milestones=[30, 40, 50, 60, 70, 80, 85]),
    "exponential_decay 0.97": dict(scheduler="exponential_decay", lr=0.1, decay_rate=0.97, warmup_epochs=2,
                                   epoch_size=300),
    "exponential_decay 0.97, stair": dict(scheduler="exponential_decay", lr=0.1, decay_rate=0.97, warmup_epochs=0,
                                          epoch_size=30, lr_epoch_stair=True),
    "polynomial_decay, defaults": dict(scheduler="polynomial_decay", lr=0.1, epoch_size=50),
    "polynomial_decay 2.0, stair, warm-up 5": dict(scheduler="polynomial_decay", lr=0.1, decay_rate=2.0,
                                                   warmup_epochs=5, warmup_factor=0.01, epoch_size=30,
                                                   lr_epoch_stair=True),
    "constant with warm-up": dict(scheduler="constant", lr=0.1, warmup_epochs=3, epoch_size=10),
    "one_cycle": dict(scheduler="one_cycle", lr=0.1, min_lr=1e-5, warmup_epochs=0, epoch_size=12),
    "cyclic, 3 cycles": dict(scheduler="cyclic", lr=0.1, min_lr=1e-3, warmup_epochs=0, num_cycles=3, epoch_size=11),
}


def recipe_schedule(steps_per_epoch, recipe):
    """Our schedule for a recipe that sets only MindCV keys: every key at the schema's default unless set."""
    cfg = {**schema.defaults(), **recipe}
    return create_scheduler(
        steps_per_epoch, scheduler=cfg["scheduler"], lr=cfg["lr"], min_lr=cfg["min_lr"],
        warmup_epochs=cfg["warmup_epochs"], warmup_factor=cfg["warmup_factor"], decay_epochs=cfg["decay_epochs"],
        decay_rate=cfg["decay_rate"], milestones=cfg["multi_step_decay_milestones"], num_epochs=cfg["epoch_size"],
        num_cycles=cfg["num_cycles"], cycle_decay=cfg["cycle_decay"], lr_epoch_stair=cfg["lr_epoch_stair"],
        power=cfg["polynomial_power"], warmup_mode=cfg["warmup_mode"])


@pytest.mark.parametrize("recipe", MINDCV_RECIPES.values(), ids=MINDCV_RECIPES)
def test_mindcv_recipe_gives_mindcv_schedule_step_by_step(recipe):
    """A recipe written for MindCV gets MindCV 0.3.0's learning rate at every step (3 steps per epoch)."""
    mindcv_scheduler = pytest.importorskip("mindcv.scheduler")
    cfg = {**schema.defaults(), **recipe}
    expected = mindcv_scheduler.create_scheduler(
        3, scheduler=cfg["scheduler"], lr=cfg["lr"], min_lr=cfg["min_lr"], warmup_epochs=cfg["warmup_epochs"],
        warmup_factor=cfg["warmup_factor"], decay_epochs=cfg["decay_epochs"], decay_rate=cfg["decay_rate"],
        milestones=cfg["multi_step_decay_milestones"], num_epochs=cfg["epoch_size"], num_cycles=cfg["num_cycles"],
        cycle_decay=cfg["cycle_decay"], lr_epoch_stair=cfg["lr_epoch_stair"])
    ours = recipe_schedule(3, recipe)
    assert len(ours) == len(expected) == 3 * cfg["epoch_size"]
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-15)


def test_every_scheduler_is_compared_with_mindcv():
    assert {recipe["scheduler"] for recipe in MINDCV_RECIPES.values()} == set(SCHEDULER_NAMES)


def test_our_keys_change_mindcvs_meaning_only_when_set():
    mindcv_form = recipe_schedule(2, dict(scheduler="polynomial_decay", lr=1.0, min_lr=0.1, epoch_size=20))
    ours = recipe_schedule(2, dict(scheduler="polynomial_decay", lr=1.0, min_lr=0.1, epoch_size=20,
                                   polynomial_power=1.0, decay_epochs=10, warmup_epochs=0))
    assert mindcv_form[-1] < 0.1 and ours[-1] == pytest.approx(0.1)
    assert ours[20] == pytest.approx(0.1)  # decayed to min_lr after decay_epochs 10


def test_every_mindcv_scheduler_is_offered():
    factory = pytest.importorskip("mindcv.scheduler.scheduler_factory").create_scheduler
    mindcv_names = factory_names(factory, "scheduler")
    assert mindcv_names == set(SCHEDULER_NAMES)


# Arguments that change every schedule's shape (MindCV refuses warm-up with one_cycle and cyclic).
SHARED_ARGUMENTS = dict(lr=0.5, min_lr=0.01, warmup_epochs=2, warmup_factor=0.1, decay_epochs=4, decay_rate=0.5,
                        milestones=[2, 5], num_epochs=9, num_cycles=2, cycle_decay=0.5)


# (name, lr_epoch_stair): MindCV refuses lr_epoch_stair with one_cycle and cyclic (ours: test_cyclic_*).
SCHEDULER_CASES = [(name, stair) for name in SCHEDULER_NAMES for stair in (False, True)
                   if not (stair and name in ("one_cycle", "cyclic"))]


@pytest.mark.parametrize("name, stair", SCHEDULER_CASES)
def test_every_scheduler_equals_mindcvs_for_the_same_arguments(name, stair):
    """create_scheduler(3, name, **same arguments) is MindCV 0.3.0's list, step for step, and so is every
    schedule that MindCV builds from its defaults alone (one_cycle and cyclic refuse its default warm-up)."""
    mindcv_scheduler = pytest.importorskip("mindcv.scheduler")
    arguments = dict(SHARED_ARGUMENTS, lr_epoch_stair=stair)
    if name in ("one_cycle", "cyclic"):
        arguments["warmup_epochs"] = 0
    np.testing.assert_allclose(create_scheduler(3, name, **arguments),
                               mindcv_scheduler.create_scheduler(3, name, **arguments), rtol=1e-9, atol=1e-15)
    if name not in ("one_cycle", "cyclic", "multi_step_decay"):  # multi_step_decay: ours wants milestones
        np.testing.assert_allclose(create_scheduler(3, name, lr_epoch_stair=stair),
                                   mindcv_scheduler.create_scheduler(3, name, lr_epoch_stair=stair), rtol=1e-9)


def test_cyclic_rises_and_falls_between_min_lr_and_lr():
    """Two triangles of 5 + 5 steps over 20 steps after a 1-epoch warm-up (ours; MindCV refuses warm-up)."""
    rates = create_scheduler(4, "cyclic", lr=1.0, min_lr=0.2, warmup_epochs=1, warmup_factor=0.5, num_cycles=2,
                             num_epochs=6)
    assert rates[:4] == pytest.approx([0.5, 0.625, 0.75, 0.875])
    main = rates[4:]
    assert main[0] == pytest.approx(0.2) and main[5] == pytest.approx(1.0) and main[10] == pytest.approx(0.2)
    assert main[15] == pytest.approx(1.0) and main[3] == pytest.approx(0.2 + 0.8 * 3 / 5)
    stair = create_scheduler(4, "cyclic", lr=1.0, min_lr=0.2, warmup_epochs=1, num_cycles=2, num_epochs=6,
                             lr_epoch_stair=True)
    assert stair[4:8] == pytest.approx([0.2] * 4) and stair[8:12] == pytest.approx([main[4]] * 4)
    with pytest.raises(ValueError, match="2 steps per cycle"):
        create_scheduler(1, "cyclic", warmup_epochs=0, num_epochs=3, num_cycles=2)
