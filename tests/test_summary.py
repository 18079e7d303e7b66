"""tensorboard_dir: the event files of a tiny in-process run, read back with TensorBoard's own reader, hold every
step's loss, the lr at the log points and each epoch's metrics.csv row; a resume continues the curves."""
import csv
import glob
import os
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from engine_fixtures import make_colour_folder, tiny_recipe_args
from mindcv_resnetv2.config import ConfigError, parse_args
from mindcv_resnetv2.engine import cli

STEPS_PER_EPOCH = 3  # 3 classes x 8 images, batch 8
EPOCH_TAGS = ("train_loss", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s", "img_per_s")


def _train(data_dir, ckpt_dir, *extra):
    # log_interval 2 of 3 steps: each epoch is read as a batch of two losses, then one.
    cli.main_train(tiny_recipe_args(data_dir, ckpt_dir, mode=1, log_interval=2, plot=False,
                                    tensorboard_dir="tb") + list(extra))


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _scalars(run_dir):
    """{tag: [(step, value), ...]} as TensorBoard shows the run (restart markers applied)."""
    accumulator = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def _check_events(ckpt_dir, epochs):
    steps = _scalars(os.path.join(ckpt_dir, "tb", "step"))
    assert sorted(steps) == ["train/loss", "train/lr"]
    losses = steps["train/loss"]
    assert [step for step, _ in losses] == list(range(1, epochs * STEPS_PER_EPOCH + 1))
    # train_loss_steps.csv holds the mean loss of each log interval, at its last step.
    by_step = dict(losses)
    for row in _rows(os.path.join(ckpt_dir, "train_loss_steps.csv")):
        last = (int(row["epoch"]) - 1) * STEPS_PER_EPOCH + int(row["step"])
        first = last - 1 if int(row["step"]) % 2 == 0 else last
        mean = sum(by_step[s] for s in range(first, last + 1)) / (last - first + 1)
        assert mean == pytest.approx(float(row["train_loss"]), rel=1e-5)
    lr = dict(steps["train/lr"])
    assert sorted(lr) == [s for e in range(epochs) for s in (e * STEPS_PER_EPOCH + 2, (e + 1) * STEPS_PER_EPOCH)]

    per_epoch = _scalars(os.path.join(ckpt_dir, "tb", "epoch"))
    assert sorted(per_epoch) == sorted(f"epoch/{key}" for key in EPOCH_TAGS)
    metrics = _rows(os.path.join(ckpt_dir, "metrics.csv"))
    assert [int(row["epoch"]) for row in metrics] == list(range(1, epochs + 1))
    for key in EPOCH_TAGS:
        events = per_epoch[f"epoch/{key}"]
        assert [step for step, _ in events] == list(range(1, epochs + 1)), key
        assert [value for _, value in events] == pytest.approx([float(row[key]) for row in metrics], rel=1e-5), key
    for row in metrics:  # the lr at an epoch's last step is the one metrics.csv reports for it
        assert lr[int(row["epoch"]) * STEPS_PER_EPOCH] == pytest.approx(float(row["lr"]), rel=1e-5)
    return by_step


def test_event_files_hold_the_steps_and_epochs_and_a_resume_continues_them(tmp_path, pynative_mode):
    data_dir = make_colour_folder(tmp_path / "data")
    ckpt_dir = str(tmp_path / "run")
    _train(data_dir, ckpt_dir)
    first = _check_events(ckpt_dir, epochs=2)

    # Resume from epoch 1 as if the run had died after it: epoch 2 is trained again, and TensorBoard shows each
    # step and epoch once (the resumed run's), the curves of epoch 1 unchanged.
    (checkpoint,) = glob.glob(os.path.join(ckpt_dir, f"*-1_{STEPS_PER_EPOCH}.ckpt"))
    _train(data_dir, ckpt_dir, "--resume", checkpoint)
    assert len(glob.glob(os.path.join(ckpt_dir, "tb", "step", "events.out.tfevents.*"))) == 2
    resumed = _check_events(ckpt_dir, epochs=2)
    assert [resumed[s] for s in range(1, 4)] == [first[s] for s in range(1, 4)]


def test_a_missing_tensorboard_is_one_line_before_training(tmp_path, monkeypatch, capsys, pynative_mode):
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)  # import fails
    ckpt_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        _train(make_colour_folder(tmp_path / "data"), str(ckpt_dir))
    assert exit_info.value.code == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert message.startswith("train.py: error: tensorboard_dir is set but the tensorboard package cannot be imported")
    assert 'pip install -e ".[tensorboard]"' in message
    assert not ckpt_dir.exists()  # nothing was trained or left behind


def test_summary_dir_points_to_tensorboard_dir():
    # MindCV's summary_dir (StateMonitor) is a folder of MindSpore summaries for MindInsight, not a recipe key.
    with pytest.raises(ConfigError, match="did you mean 'tensorboard_dir'"):
        parse_args(["--summary_dir", "tb"])
