"""The metrics files of a run, the learning-curve PNG drawn from them, and the PNG helper of every plot.

metrics.csv has one row per epoch; the training-loss file (``STEP_LOSS_FILE``) has one row per log interval, so
that the curve of a short run (the two-epoch quick start) shows how the loss fell within each epoch.
"""
import csv
import io
import logging
import math
import os

from ..utils.files import atomic_output, write_text_atomic

_logger = logging.getLogger("mindcv_resnetv2")

FIELDS = ("epoch", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s", "img_per_s")
# One row per log interval: `progress` is the epoch count at the interval's last step (epoch - 1 + step / steps).
STEP_LOSS_FILE = "train_loss_steps.csv"
STEP_FIELDS = ("epoch", "step", "progress", "train_loss")


class MetricsFile:
    """Appends rows keyed by a 1-based `epoch` column. metrics.csv gets its row after that epoch's checkpoint
    landed; on resume, rows of epochs after the resumed one (trained after the last checkpoint of the interrupted
    run) are dropped, and the resumed epoch's row, which a kill between checkpoint and row may have lost, is
    restored from the checkpoint: every epoch appears once. The per-interval loss file (STEP_FIELDS) is written
    before the checkpoint instead, so the same pruning keeps each of its rows exactly once."""

    def __init__(self, path, fields=FIELDS):
        self.path, self.fields = path, fields

    def rows(self):
        if not os.path.isfile(self.path):
            return []
        with open(self.path, newline="") as handle:
            return list(csv.DictReader(handle))

    def resume_at(self, epoch, row=None):
        """Keep the rows up to `epoch`; add `row` (the checkpoint's copy of epoch `epoch`) if that row is missing."""
        rows = self.rows()
        kept = [r for r in rows if int(r["epoch"]) <= epoch]
        if row and not any(int(r["epoch"]) == epoch for r in kept):
            kept.append(self._formatted(row))
        if kept != rows:
            self._write(kept)

    def append(self, **row):
        self.extend([row])

    def extend(self, rows):
        self._write(self.rows() + [self._formatted(row) for row in rows])

    def _formatted(self, row):
        return {key: _format(row.get(key)) for key in self.fields}

    def _write(self, rows):
        """The whole file, atomically: a full disk never leaves half a row."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, self.fields)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.path, buffer.getvalue(), what="metrics file")


def finite_mean(values):
    """Mean of the finite values (a NaN/Inf step does not hide the others); NaN when there is none."""
    finite = [v for v in values if math.isfinite(v)]
    return math.fsum(finite) / len(finite) if finite else float("nan")


def interval_rows(losses, epoch, steps_per_epoch, log_interval):
    """STEP_FIELDS rows of one epoch: the mean loss of each run of `log_interval` steps (the last one may be
    shorter), at the interval's last step. `losses` holds one value per step run (one per epoch in sink mode)."""
    rows = []
    for start in range(0, len(losses), log_interval):
        chunk = losses[start:start + log_interval]
        last_step = steps_per_epoch if len(losses) == 1 else start + len(chunk)  # sink: one loss per epoch
        rows.append(dict(epoch=epoch, step=last_step, progress=epoch - 1 + last_step / steps_per_epoch,
                         train_loss=finite_mean(chunk)))
    return rows


def _format(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _column(rows, key, x_key="epoch"):
    points = [(float(r[x_key]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
    return [p[0] for p in points], [p[1] for p in points]


def plot_metrics(metrics_path, png_path, title="", steps_path=None):
    """Loss and accuracy (val top-1/top-5) against epoch, side by side; returns png_path (None: see draw_png).

    The training loss is drawn per log interval from `steps_path` when that file has rows (else per epoch from
    metrics.csv), the validation loss per epoch.
    """
    def draw(plt):
        steps = MetricsFile(steps_path, STEP_FIELDS).rows() if steps_path else []
        return _draw_curves(plt, MetricsFile(metrics_path).rows(), steps, title)

    return draw_png(draw, png_path, "Learning curves", metrics_path)


def draw_png(draw, png_path, what, results_path):
    """Save the matplotlib figure `draw(pyplot)` returns to `png_path` (atomically); returns png_path.

    A plot is an extra: if matplotlib is missing or drawing fails, one warning naming `what` and the file that
    holds the same results (`results_path`) is logged and None returned, so a run that trained and saved its
    checkpoints, or an evaluation that measured its numbers, never fails on it.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = draw(plt)
        try:
            with atomic_output(png_path, what="plot") as temporary:
                fig.savefig(temporary, dpi=100, format="png")
        finally:
            plt.close(fig)
        return png_path
    except Exception as exc:  # noqa: BLE001 - any plotting failure (import, backend, fonts, disk) is only a warning
        _logger.warning("%s not drawn (%s: %s); the results are in %s. Install the plot extra "
                        "(pip install -e \".[plot]\") to get them.", what, type(exc).__name__, exc, results_path)
        return None


def _draw_curves(plt, rows, step_rows, title):
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    x, y = _column(step_rows, "train_loss", "progress")
    if len(x) > len(rows) and all(math.isfinite(v) for v in y):
        loss_ax.plot(x, y, label="train loss (per log interval)")
    else:
        x, y = _column(rows, "train_loss")
        if x and all(math.isfinite(v) for v in y):
            loss_ax.plot(x, y, marker="o", label="train loss")
    x, y = _column(rows, "val_loss")
    if x and all(math.isfinite(v) for v in y):
        loss_ax.plot(x, y, marker="o", label="val loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.legend()
    for key, label in (("val_top1", "val top-1"), ("val_top5", "val top-5")):
        x, y = _column(rows, key)
        if x:
            acc_ax.plot(x, y, marker="o", label=label)
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
