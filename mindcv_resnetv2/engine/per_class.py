"""What an evaluation says class by class: per-class top-1 accuracy in the log, and confusion_matrix.csv,
per_class_accuracy.csv and confusion_matrix.png in a folder (train.py: the run folder at the end of the run;
validate.py: see its confusion_matrix_dir key).

The matrix is the Evaluator's `confusion`: counts [true class, top-1 prediction] over the whole split, so a class's
accuracy is its diagonal entry over its row's sum (the class's images).
"""
import csv
import io
import logging
import os

import numpy as np

from ..utils.files import write_text_atomic
from .evaluation import CONFUSION_CLASS_LIMIT
from .metrics import draw_png

_logger = logging.getLogger("mindcv_resnetv2")

CONFUSION_CSV = "confusion_matrix.csv"
PER_CLASS_CSV = "per_class_accuracy.csv"
CONFUSION_PNG = "confusion_matrix.png"
CORNER = "true \\ predicted"  # the confusion csv's first header cell: rows are true classes, columns predictions
# Up to this many classes the log lists each; above, the SHOWN worst and best (every class is in PER_CLASS_CSV).
LOG_EVERY_CLASS_UP_TO = 20
SHOWN = 5
# The png names each class on its axes up to this many classes, and writes each cell's count up to LABEL_CELLS.
LABEL_AXES, LABEL_CELLS = 40, 20


def output_files(plot=True):
    """The names `write_outputs` writes (the png only with `plot`)."""
    return (CONFUSION_CSV, PER_CLASS_CSV) + ((CONFUSION_PNG,) if plot else ())


def per_class_rows(confusion, class_names):
    """One dict per class in label order: class (name), correct, total (its images), accuracy (% or None for a
    class without images in the split)."""
    if len(class_names) != len(confusion):
        raise ValueError(f"{len(class_names)} class names for a {len(confusion)}-class confusion matrix")
    correct, totals = np.diag(confusion), confusion.sum(axis=1)
    return [{"class": name, "correct": int(hits), "total": int(total),
             "accuracy": 100.0 * hits / total if total else None}
            for name, hits, total in zip(class_names, correct, totals)]


def _line(row):
    if not row["total"]:
        return f"  {row['class']}: no images"
    return f"  {row['class']}: {row['correct']}/{row['total']} = {row['accuracy']:.2f}%"


def per_class_lines(rows, csv_path=None):
    """The log's text: every class, or for many classes the SHOWN worst and best (ties: lower label first)."""
    if len(rows) <= LOG_EVERY_CLASS_UP_TO:
        return "\n".join(["Per-class top-1 accuracy (correct/images):"] + [_line(r) for r in rows])
    scored = sorted((r for r in rows if r["total"]), key=lambda r: r["accuracy"])
    empty = len(rows) - len(scored)
    where = f"; every class in {csv_path}" if csv_path else ""
    lines = [f"Per-class top-1 accuracy of {len(rows)} classes (correct/images){where}:",
             f" worst {min(SHOWN, len(scored))}:"] + [_line(r) for r in scored[:SHOWN]]
    lines += [f" best {min(SHOWN, len(scored))}:"] + [_line(r) for r in reversed(scored[-SHOWN:])]
    if empty:
        lines.append(f" {empty} class(es) without images in the split")
    return "\n".join(lines)


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_outputs(confusion, rows, folder, title, plot=True):
    """Write output_files(plot) into `folder`; returns {file name: path written} (no png if drawing failed)."""
    names = [r["class"] for r in rows]
    written = {}
    path = os.path.join(folder, CONFUSION_CSV)
    written[CONFUSION_CSV] = write_text_atomic(
        path, _csv_text([CORNER] + names, [[name] + counts for name, counts in zip(names, confusion.tolist())]),
        what="confusion matrix")
    per_class = [[r["class"], r["correct"], r["total"], "" if r["accuracy"] is None else f"{r['accuracy']:.4f}"]
                 for r in rows]
    written[PER_CLASS_CSV] = write_text_atomic(
        os.path.join(folder, PER_CLASS_CSV), _csv_text(["class", "correct", "total", "accuracy"], per_class),
        what="per-class accuracy")
    if plot:
        png = draw_png(lambda plt: _draw_matrix(plt, confusion, names, title), os.path.join(folder, CONFUSION_PNG),
                       "Confusion matrix", path)
        if png:
            written[CONFUSION_PNG] = png
    return written


def report(result, class_names, folder, title, plot=True):
    """Log the per-class accuracy of an Evaluator `result` and, when `folder` is given, write output_files(plot)
    there; returns (per-class rows, {file name: path written}). A result without a matrix (more classes than
    evaluation.CONFUSION_CLASS_LIMIT) gets one log line saying so and ([], {})."""
    if "confusion" not in result:
        _logger.info("No per-class accuracy or confusion matrix: %d classes is more than the %d counted.",
                     len(class_names), CONFUSION_CLASS_LIMIT)
        return [], {}
    rows = per_class_rows(result["confusion"], class_names)
    written = write_outputs(result["confusion"], rows, folder, title, plot) if folder else {}
    _logger.info("%s", per_class_lines(rows, written.get(PER_CLASS_CSV)))
    if written:
        _logger.info("Confusion matrix (rows: true class, columns: predicted): %s", ", ".join(written.values()))
    return rows, written


def _draw_matrix(plt, confusion, names, title):
    """Each row normalised by its class's images (the colour: share of the true class predicted as each class)."""
    classes = len(names)
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    side = min(4.0 + 0.3 * classes, 16.0)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="share of the true class's images")
    if classes <= LABEL_AXES:
        ax.set_xticks(range(classes), names, rotation=90)
        ax.set_yticks(range(classes), names)
    if classes <= LABEL_CELLS:
        for (true, predicted), count in np.ndenumerate(confusion):
            ax.text(predicted, true, str(count), ha="center", va="center",
                    color="white" if shares[true, predicted] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    correct = int(np.trace(confusion))
    ax.set_title(f"{title}\ntop-1 {100.0 * correct / max(int(confusion.sum()), 1):.2f}% "
                 f"({correct}/{int(confusion.sum())})")
    fig.tight_layout()
    return fig
