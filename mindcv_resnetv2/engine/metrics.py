"""The per-epoch metrics file of a run (CSV, one row per epoch) and the learning-curve PNG drawn from it."""
import csv
import io
import logging
import math
import os

from ..utils.files import atomic_output, write_text_atomic

_logger = logging.getLogger("mindcv_resnetv2")

FIELDS = ("epoch", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s", "img_per_s")


class MetricsFile:
    """Appends one row per epoch, after that epoch's checkpoint landed. On resume, rows of epochs after the resumed
    one (trained after the last checkpoint of the interrupted run) are dropped, and the resumed epoch's row, which
    a kill between checkpoint and row may have lost, is restored from the checkpoint: every epoch appears once."""

    def __init__(self, path):
        self.path = path

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
            kept.append({key: _format(row.get(key)) for key in FIELDS})
        if kept != rows:
            self._write(kept)

    def append(self, **row):
        self._write(self.rows() + [{key: _format(row.get(key)) for key in FIELDS}])

    def _write(self, rows):
        """The whole file, atomically: a full disk never leaves half a row (the file is one row per epoch)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.path, buffer.getvalue(), what="metrics file")


def _format(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _column(rows, key):
    points = [(int(r["epoch"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
    return [p[0] for p in points], [p[1] for p in points]


def plot_metrics(metrics_path, png_path, title=""):
    """Loss (train and val) and accuracy (val top-1/top-5) against epoch, side by side; returns png_path.

    The plot is an extra: if matplotlib is missing or fails, one warning is logged and None returned, so a run
    that trained and saved its checkpoints never fails on it.
    """
    try:
        return _draw(MetricsFile(metrics_path).rows(), png_path, title)
    except Exception as exc:  # noqa: BLE001 - any plotting failure (import, backend, fonts, disk) is only a warning
        _logger.warning("Learning curves not drawn (%s: %s); the run's results are in %s. Install the plot extra "
                        "(pip install -e \".[plot]\") to get them.", type(exc).__name__, exc, metrics_path)
        return None


def _draw(rows, png_path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train loss"), ("val_loss", "val loss")):
        x, y = _column(rows, key)
        if x and all(math.isfinite(v) for v in y):
            loss_ax.plot(x, y, marker="o", label=label)
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
    try:
        with atomic_output(png_path, what="plot") as temporary:
            fig.savefig(temporary, dpi=100, format="png")
    finally:
        plt.close(fig)
    return png_path
