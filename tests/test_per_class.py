"""Per-class accuracy and the confusion matrix files a user reads after an evaluation: the numbers, the log lines
(every class, or the worst and best of many), the two csv files and the png; and where validate.py writes them."""
import csv
import logging
import os

import numpy as np
import pytest

from mindcv_resnetv2.config import parse_args
from mindcv_resnetv2.engine import per_class
from mindcv_resnetv2.engine.validate import confusion_folder
from mindcv_resnetv2.utils.files import OutputExistsError

# 3 classes, the last without images: rows = true class, columns = predicted.
CONFUSION = np.array([[3, 1, 0], [2, 2, 0], [0, 0, 0]], np.int64)
NAMES = ["cat", "dog, large", "emu"]


def _read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_per_class_rows_are_the_diagonal_over_each_row():
    rows = per_class.per_class_rows(CONFUSION, NAMES)
    assert rows == [{"class": "cat", "correct": 3, "total": 4, "accuracy": 75.0},
                    {"class": "dog, large", "correct": 2, "total": 4, "accuracy": 50.0},
                    {"class": "emu", "correct": 0, "total": 0, "accuracy": None}]
    with pytest.raises(ValueError, match="2 class names for a 3-class"):
        per_class.per_class_rows(CONFUSION, NAMES[:2])


def test_few_classes_are_all_logged_many_only_the_worst_and_best():
    text = per_class.per_class_lines(per_class.per_class_rows(CONFUSION, NAMES))
    assert "cat: 3/4 = 75.00%" in text and "dog, large: 2/4 = 50.00%" in text and "emu: no images" in text
    classes = 30
    confusion = np.diag(np.arange(classes) + 1) + np.ones((classes, classes), np.int64)  # class k: k+1 of k+30
    names = [f"c{k}" for k in range(classes)]
    text = per_class.per_class_lines(per_class.per_class_rows(confusion, names), "out/per_class_accuracy.csv")
    listed = [line.split(":")[0].strip() for line in text.splitlines() if line.startswith("  ")]
    assert listed == ["c0", "c1", "c2", "c3", "c4", "c29", "c28", "c27", "c26", "c25"]
    assert "of 30 classes" in text and "every class in out/per_class_accuracy.csv" in text


def test_the_files_hold_the_matrix_with_class_names_and_every_class(tmp_path):
    rows = per_class.per_class_rows(CONFUSION, NAMES)
    written = per_class.write_outputs(CONFUSION, rows, str(tmp_path), "net on val")
    assert sorted(written) == sorted(per_class.output_files(plot=True))
    matrix = _read_csv(tmp_path / per_class.CONFUSION_CSV)
    assert matrix[0] == [per_class.CORNER] + NAMES  # the comma in a name is quoted, not a new column
    assert [row[0] for row in matrix[1:]] == NAMES
    np.testing.assert_array_equal(np.array([row[1:] for row in matrix[1:]], np.int64), CONFUSION)
    assert _read_csv(tmp_path / per_class.PER_CLASS_CSV) == [
        ["class", "correct", "total", "accuracy"], ["cat", "3", "4", "75.0000"], ["dog, large", "2", "4", "50.0000"],
        ["emu", "0", "0", ""]]
    pytest.importorskip("matplotlib")
    with open(tmp_path / per_class.CONFUSION_PNG, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_report_logs_and_writes_and_says_when_there_is_no_matrix(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mindcv_resnetv2"):
        rows, written = per_class.report({"confusion": CONFUSION}, NAMES, str(tmp_path), "t", plot=False)
        assert per_class.report({"top1": 1.0}, NAMES, str(tmp_path), "t") == ([], {})
    assert [r["correct"] for r in rows] == [3, 2, 0]
    assert sorted(os.listdir(tmp_path)) == sorted([per_class.CONFUSION_CSV, per_class.PER_CLASS_CSV])
    text = caplog.text
    assert "cat: 3/4 = 75.00%" in text and str(tmp_path / per_class.CONFUSION_CSV) in text
    assert "No per-class accuracy or confusion matrix: 3 classes" in text


def _validate_cfg(*argv):
    return parse_args(["--model", "preact_resnet20_cifar", "--dataset", "synthetic", *map(str, argv)],
                      entry="validate")


def test_validate_writes_beside_a_checkpoint_only_in_its_run_folder(tmp_path):
    run, loose = tmp_path / "run", tmp_path / "loose"
    for folder in (run, loose):
        folder.mkdir()
        (folder / "m.ckpt").write_bytes(b"")
    (run / "recipe.yaml").write_text("model: preact_resnet20_cifar\n")
    assert confusion_folder(_validate_cfg("--ckpt_path", run / "m.ckpt")) == str(run)
    assert confusion_folder(_validate_cfg("--ckpt_path", loose / "m.ckpt")) is None
    assert confusion_folder(_validate_cfg("--pretrained", "True")) is None


def test_validate_keeps_existing_files_outside_a_run_folder_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / per_class.CONFUSION_CSV).write_text("someone else's table\n")
    with pytest.raises(OutputExistsError, match="confusion_matrix.csv' already exists.*--overwrite True"):
        confusion_folder(_validate_cfg("--pretrained", "True", "--confusion_matrix_dir", out))
    assert confusion_folder(_validate_cfg("--pretrained", "True", "--confusion_matrix_dir", out, "--overwrite",
                                          "True")) == str(out)
    (out / "recipe.yaml").write_text("model: preact_resnet20_cifar\n")  # a run folder: its own outputs are replaced
    assert confusion_folder(_validate_cfg("--pretrained", "True", "--confusion_matrix_dir", out)) == str(out)
    assert confusion_folder(_validate_cfg("--pretrained", "True", "--confusion_matrix_dir", tmp_path / "new")) == \
        str(tmp_path / "new")
