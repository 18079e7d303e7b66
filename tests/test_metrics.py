"""The run's metrics files and learning curves: per-interval training losses, their resume rule, the PNG."""
import math

import pytest

from mindcv_resnetv2.engine.metrics import (STEP_FIELDS, MetricsFile, finite_mean, interval_rows, plot_metrics)


def test_interval_rows_average_each_log_interval_and_end_at_the_epoch_end():
    rows = interval_rows([4.0, 2.0, 3.0, 1.0, 5.0], epoch=2, steps_per_epoch=5, log_interval=2)
    assert [(r["step"], r["train_loss"]) for r in rows] == [(2, 3.0), (4, 2.0), (5, 5.0)]
    assert [r["progress"] for r in rows] == pytest.approx([1.4, 1.8, 2.0])
    assert all(r["epoch"] == 2 for r in rows)


def test_a_sink_epoch_is_one_point_at_the_epoch_end():
    assert interval_rows([0.7], epoch=3, steps_per_epoch=100, log_interval=10) == [
        dict(epoch=3, step=100, progress=3.0, train_loss=0.7)]


def test_a_nonfinite_step_does_not_hide_the_others():
    assert finite_mean([1.0, float("nan"), 3.0]) == 2.0
    assert math.isnan(finite_mean([float("inf")]))


def test_resume_keeps_each_interval_row_once(tmp_path):
    steps = MetricsFile(str(tmp_path / "steps.csv"), STEP_FIELDS)
    for epoch in (1, 2, 3):
        steps.extend(interval_rows([1.0, 0.5], epoch, 2, 1))
    steps.resume_at(2)  # the run is resumed from the checkpoint of epoch 2: epoch 3's rows are trained again
    steps.extend(interval_rows([0.4, 0.3], 3, 2, 1))
    assert [(r["epoch"], r["step"], r["train_loss"]) for r in steps.rows()] == [
        ("1", "1", "1"), ("1", "2", "0.5"), ("2", "1", "1"), ("2", "2", "0.5"), ("3", "1", "0.4"), ("3", "2", "0.3")]


def test_the_plot_draws_the_training_loss_per_interval(tmp_path, monkeypatch):
    axes = pytest.importorskip("matplotlib.axes")
    metrics = MetricsFile(str(tmp_path / "metrics.csv"))
    steps = MetricsFile(str(tmp_path / "steps.csv"), STEP_FIELDS)
    for epoch in (1, 2):
        metrics.append(epoch=epoch, train_loss=1.0 / epoch, val_loss=1.1 / epoch, val_top1=50.0, val_top5=90.0)
        steps.extend(interval_rows([2.0, 1.5, 1.2, 1.0], epoch, 4, 1))
    drawn = {}

    original = axes.Axes.plot

    def record(self, x, y, *args, label=None, **kwargs):
        drawn[label] = list(x)
        return original(self, x, y, *args, label=label, **kwargs)

    monkeypatch.setattr(axes.Axes, "plot", record)
    png = plot_metrics(metrics.path, str(tmp_path / "curves.png"), "net", steps.path)
    assert png and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert drawn["train loss (per log interval)"] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert drawn["val loss"] == [1.0, 2.0]
