"""The per-epoch metrics file of a run (CSV, one row per epoch) and the learning-curve PNG drawn from it."""
import csv
import math
import os

FIELDS = ("epoch", "train_loss", "val_loss", "val_top1", "val_top5", "lr", "epoch_time_s", "img_per_s")


class MetricsFile:
    """Appends one row per epoch. On resume, rows of epochs after the resumed one (trained after the last
    checkpoint of the interrupted run) are dropped, so every epoch appears once; earlier rows are kept."""

    def __init__(self, path):
        self.path = path

    def rows(self):
        if not os.path.isfile(self.path):
            return []
        with open(self.path, newline="") as handle:
            return list(csv.DictReader(handle))

    def truncate_after(self, epoch):
        kept = [row for row in self.rows() if int(row["epoch"]) <= epoch]
        if len(kept) == len(self.rows()):
            return
        temporary = self.path + ".tmp"
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(temporary, self.path)

    def append(self, **row):
        new_file = not os.path.isfile(self.path)
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            if new_file:
                writer.writeheader()
            writer.writerow({key: _format(row.get(key)) for key in FIELDS})


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
    """Loss (train and val) and accuracy (val top-1/top-5) against epoch, side by side; returns png_path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = MetricsFile(metrics_path).rows()
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
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
