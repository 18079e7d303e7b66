"""End to end through train.py and validate.py on a tiny generated ImageFolder, in graph mode as users run it."""
import csv
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from engine_fixtures import (REPO, make_colour_folder, read_confusion, read_json, run_counted_train, run_entry,
                             tiny_recipe_args)
from instrumented_train import compiled, read_record, read_state, read_steps
from mindcv_resnetv2.checkpoint import read_checkpoint, split_checkpoint
from mindcv_resnetv2.engine.metrics import STEP_LOSS_FILE
from mindcv_resnetv2.engine.per_class import CONFUSION_CSV, CONFUSION_PNG, PER_CLASS_CSV

pytestmark = pytest.mark.slow
MODEL = "preact_resnet20_cifar"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_colour_folder(str(tmp_path_factory.mktemp("colours")))


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    """One 3-epoch run shared by the tests that only read its outputs (train.py, counting datasets and graphs)."""
    ckpt_dir = str(tmp_path_factory.mktemp("run"))
    records = str(tmp_path_factory.mktemp("record"))
    result = run_counted_train(tiny_recipe_args(data_dir, ckpt_dir, epochs=3), records)
    assert result.returncode == 0, result.stdout + result.stderr
    result.record = read_record(records)
    return ckpt_dir, result


def _metrics(ckpt_dir, name="metrics.csv"):
    with open(os.path.join(ckpt_dir, name)) as handle:
        return list(csv.DictReader(handle))


def _weights(path):
    return split_checkpoint(read_checkpoint(path)).model


def _confusion(folder):
    classes, matrix = read_confusion(folder)
    assert classes == ["class_0", "class_1", "class_2"]
    return matrix


def test_training_learns_and_writes_its_outputs(trained):
    ckpt_dir, result = trained
    rows = _metrics(ckpt_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    # log_interval 1: the learning curve's training loss has a point per step, each epoch's mean in metrics.csv
    steps = _metrics(ckpt_dir, STEP_LOSS_FILE)
    assert [(int(r["epoch"]), int(r["step"])) for r in steps] == [(e, s) for e in (1, 2, 3) for s in (1, 2, 3)]
    for row in rows:
        mine = [float(s["train_loss"]) for s in steps if s["epoch"] == row["epoch"]]
        assert float(row["train_loss"]) == pytest.approx(sum(mine) / 3, rel=1e-4)
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < losses[0]
    assert float(rows[-1]["val_top1"]) > 100 / 3 + 10  # clearly above chance on 9 validation images
    assert all(0 <= float(r["val_top1"]) <= float(r["val_top5"]) <= 100 for r in rows)  # percentages
    for name in (f"{MODEL}-1_3.ckpt", f"{MODEL}-3_3.ckpt", f"{MODEL}_best.ckpt", "recipe.yaml", "class_names.txt",
                 "learning_curves.png", "train_rank0.log", CONFUSION_CSV, PER_CLASS_CSV, CONFUSION_PNG):
        assert os.path.isfile(os.path.join(ckpt_dir, name)), name
    # the last validation's confusion matrix: every validation image once, its diagonal the logged top-1
    matrix = _confusion(ckpt_dir)
    assert matrix.sum(axis=1).tolist() == [3, 3, 3]
    assert 100 * np.trace(matrix) / 9 == pytest.approx(float(rows[-1]["val_top1"]), abs=1e-3)
    assert "Per-class top-1 accuracy" in result.stdout and "class_0: " in result.stdout
    assert open(os.path.join(ckpt_dir, "class_names.txt")).read().split() == ["class_0", "class_1", "class_2"]
    assert "trainable parameters" in result.stdout and "batches per epoch" in result.stdout
    assert os.stat(os.path.join(ckpt_dir, f"{MODEL}-3_3.ckpt")).st_mode & 0o200  # owner can write
    assert "fine-tuning a new classifier" not in result.stdout + result.stderr  # from scratch: no lr advice


def test_a_run_builds_each_pipeline_and_the_training_graph_once(trained):
    """3 epochs, validating after each: one training and one validation dataset, one training-graph compilation
    (on Ascend the dataset sink is then built once too); validation compiles once per batch shape (8, then 1)."""
    record = trained[1].record
    assert sorted(record["datasets"]) == ["train", "val"]
    assert compiled(record, "TrainStep") == 1
    assert compiled(record, "EvalStep") == 2


def test_the_device_is_read_at_log_interval_and_epoch_end_only(data_dir, tmp_path):
    """log_interval 2, 5 steps per epoch: the losses, optimizer step and loss scale come to the host after steps
    2, 4 and 5 of each epoch, one transfer each, and the host reads no other tensor while the epoch trains."""
    records = str(tmp_path / "record")
    os.makedirs(records)
    argv = tiny_recipe_args(data_dir, str(tmp_path / "run"), epochs=2, batch_size=4, num_samples=20, log_interval=2)
    result = run_counted_train(argv, records)
    assert result.returncode == 0, result.stdout + result.stderr
    epochs = read_record(records)["epochs"]
    assert [read_steps(epoch) for epoch in epochs] == [[2, 4, 5], [2, 4, 5]]
    assert [[read["optimizer_step"] for read in epoch["reads"]] for epoch in epochs] == [[2, 4, 5], [7, 9, 10]]
    assert [epoch["host_reads"] for epoch in epochs] == [3, 3]


def test_sink_mode_makes_one_sink_per_run_with_the_recipes_jit_level_and_resumes_so(data_dir, tmp_path):
    """dataset_sink_mode on a device that sinks (ms.data_sink emulated on CPU, tests/instrumented_train.py): one
    data_sink per run, of one epoch's steps, compiled at the recipe's jit_level; one device read per epoch; the run
    learns; a resumed run (its last checkpoint lost) makes its own single sink and finishes the epochs."""
    ckpt_dir, records, resumed_records = (str(tmp_path / name) for name in ("run", "record", "resumed"))
    os.makedirs(records)
    os.makedirs(resumed_records)
    argv = tiny_recipe_args(data_dir, ckpt_dir, epochs=3, dataset_sink_mode=True, jit_level="O1")
    result = run_counted_train(argv, records, sink=True)
    assert result.returncode == 0, result.stdout + result.stderr
    record = read_record(records)
    assert record["data_sink"] == [{"cell": "TrainStep", "sink_size": 3, "jit_level": "O1", "calls": 3}]
    assert [read_steps(epoch) for epoch in record["epochs"]] == [[1], [1], [1]]  # one loss: the sink's last
    assert [[read["optimizer_step"] for read in epoch["reads"]] for epoch in record["epochs"]] == [[3], [6], [9]]
    assert [epoch["host_reads"] for epoch in record["epochs"]] == [1, 1, 1]
    assert compiled(record, "TrainStep") == 1
    rows = _metrics(ckpt_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert float(rows[-1]["val_top1"]) > 100 / 3 + 10

    os.remove(os.path.join(ckpt_dir, f"{MODEL}-3_3.ckpt"))  # as after a kill during epoch 3
    resumed = run_counted_train(argv + ["--resume", "auto"], resumed_records, sink=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    record = read_record(resumed_records)
    assert record["data_sink"] == [{"cell": "TrainStep", "sink_size": 3, "jit_level": "O1", "calls": 1}]
    assert [[read["optimizer_step"] for read in epoch["reads"]] for epoch in record["epochs"]] == [[9]]
    assert [int(r["epoch"]) for r in _metrics(ckpt_dir)] == [1, 2, 3]
    assert os.path.isfile(os.path.join(ckpt_dir, f"{MODEL}-3_3.ckpt"))


def test_resolved_recipe_repeats_the_run(trained, tmp_path):
    ckpt_dir, _ = trained
    from mindcv_resnetv2.config import parse_args

    cfg = parse_args(["-c", os.path.join(ckpt_dir, "recipe.yaml")])
    assert cfg.model == MODEL and cfg.epoch_size == 3 and cfg.image_resize == 16 and cfg.ckpt_save_dir == ckpt_dir


def test_validate_reports_the_whole_split_as_json(trained, data_dir, tmp_path):
    """The last checkpoint, in batches of 4 (uneven), as JSON; its confusion matrix goes into its run folder and
    equals the one training wrote after its last validation (the same model)."""
    ckpt_dir, _ = trained
    from_training = _confusion(ckpt_dir)
    out = str(tmp_path / "metrics.json")
    argv = tiny_recipe_args(data_dir, ckpt_dir) + ["--ckpt_path", os.path.join(ckpt_dir, f"{MODEL}-3_3.ckpt"),
                                                     "--batch_size", "4", "--metrics_json", out]
    result = run_entry("validate.py", argv)
    assert result.returncode == 0, result.stderr
    metrics = read_json(out)
    assert metrics["num_samples"] == 9  # 9 images in batches of 4: none dropped or repeated
    assert [(c["class"], c["total"]) for c in metrics["per_class"]] == [("class_0", 3), ("class_1", 3), ("class_2", 3)]
    assert sum(c["correct"] for c in metrics["per_class"]) == round(metrics["top1"] * 9 / 100)
    assert metrics["confusion_matrix"] == os.path.join(ckpt_dir, CONFUSION_CSV)
    np.testing.assert_array_equal(_confusion(ckpt_dir), from_training)
    assert [c["correct"] for c in metrics["per_class"]] == np.diag(from_training).tolist()
    assert "Per-class top-1 accuracy" in result.stdout
    assert 0 <= metrics["top1"] <= metrics["top5"] <= 100
    last = _metrics(ckpt_dir)[-1]
    assert metrics["top1"] == pytest.approx(float(last["val_top1"]), abs=1e-3)
    assert metrics["loss"] == pytest.approx(float(last["val_loss"]), rel=1e-4)
    assert "top-1" in result.stdout and "over 9 images" in result.stdout


def test_resume_after_sigkill_matches_an_uninterrupted_run(trained, data_dir, tmp_path):
    reference_dir, _ = trained
    ckpt_dir = str(tmp_path / "killed")
    argv = tiny_recipe_args(data_dir, ckpt_dir, epochs=3)
    process = subprocess.Popen([sys.executable, os.path.join(REPO, "train.py")] + argv, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = os.path.join(ckpt_dir, f"{MODEL}-1_3.ckpt")
    deadline = time.time() + 300
    while not os.path.exists(first) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # somewhere in epoch 2, maybe inside a save
    process.wait()
    assert os.path.exists(first)
    resumed = run_entry("train.py", argv + ["--resume", "auto"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Resuming from" in resumed.stdout
    rows = _metrics(ckpt_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # appended, each epoch once, never more than epoch_size
    steps = [(int(r["epoch"]), int(r["step"])) for r in _metrics(ckpt_dir, STEP_LOSS_FILE)]
    assert steps == [(e, s) for e in (1, 2, 3) for s in (1, 2, 3)]  # each interval once, whenever the kill came
    ours = _weights(os.path.join(ckpt_dir, f"{MODEL}-3_3.ckpt"))
    reference = _weights(os.path.join(reference_dir, f"{MODEL}-3_3.ckpt"))
    assert ours.keys() == reference.keys()
    for name in reference:
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-4, atol=1e-5, err_msg=name)
    with open(os.path.join(ckpt_dir, "train_rank0.log")) as handle:
        assert handle.read().count("Training " + MODEL) == 2  # the log was appended to, not truncated


def test_resume_of_a_finished_run_trains_nothing_more(trained, data_dir):
    ckpt_dir, _ = trained
    before = _metrics(ckpt_dir)
    result = run_entry("train.py", tiny_recipe_args(data_dir, ckpt_dir, epochs=3) + ["--resume", "auto"])
    assert result.returncode == 0, result.stderr
    assert _metrics(ckpt_dir) == before
    # one line saying so, not the start-of-training summary of a run that does not train
    assert "Training " not in result.stdout, result.stdout
    assert re.search(r"nothing to train: .* holds all 3 epochs of this recipe", result.stdout), result.stdout


def test_fine_tune_to_another_class_count(trained, tmp_path):
    ckpt_dir, _ = trained
    two_classes = make_colour_folder(str(tmp_path / "two"), classes=2, seed=1)
    argv = tiny_recipe_args(two_classes, str(tmp_path / "finetune"), epochs=1)
    argv += ["--ckpt_path", os.path.join(ckpt_dir, f"{MODEL}_best.ckpt"), "--num_classes", "2"]
    result = run_entry("train.py", argv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "classifier" in result.stdout + result.stderr  # the re-initialisation is logged
    assert "fine-tuning a new classifier at lr 0.05, 1.6 per 256 images" in result.stdout  # lr 0.05 at batch 8
    weights = _weights(os.path.join(str(tmp_path / "finetune"), f"{MODEL}-1_2.ckpt"))
    assert weights["classifier.weight"].shape == (2, 64)


def test_a_second_run_into_a_used_directory_is_refused(trained, data_dir):
    ckpt_dir, _ = trained
    before = sorted(os.listdir(ckpt_dir))
    result = run_entry("train.py", tiny_recipe_args(data_dir, ckpt_dir))
    assert result.returncode == 1
    assert "--resume auto" in result.stderr and "--overwrite" in result.stderr
    assert sorted(os.listdir(ckpt_dir)) == before


def test_weights_gone_non_finite_under_a_finite_loss_stop_the_run_and_no_checkpoint_holds_them(data_dir, tmp_path):
    """lr 1e30: the weights overflow to NaN/Inf while the loss read with them is still finite (~1e29); the watch
    on the weights stops the run at that read, before any checkpoint could save them."""
    ckpt_dir = str(tmp_path / "nan")
    argv = tiny_recipe_args(data_dir, ckpt_dir, epochs=3, lr=1e30, nonfinite_patience=2, scheduler="constant",
                            warmup_epochs=0, log_interval=2)  # the watch acts on the reads, after steps 2 and 3
    result = run_entry("train.py", argv)
    assert result.returncode == 1
    assert "weights became NaN/Inf in epoch 1" in result.stderr
    for name in os.listdir(ckpt_dir):
        if name.endswith(".ckpt"):
            assert all(np.isfinite(value).all() for value in read_checkpoint(os.path.join(ckpt_dir, name)).values())
    assert "NaN/Inf" in open(os.path.join(ckpt_dir, "train_rank0.log")).read()  # a late error is in the run's log


@pytest.mark.parametrize("case", ["missing_ckpt", "bad_data_dir", "unknown_key", "wrong_model_ckpt", "no_weights"])
def test_bad_input_is_one_clear_line(case, trained, data_dir, tmp_path):
    ckpt_dir, _ = trained
    base = tiny_recipe_args(data_dir, str(tmp_path / "out"))
    script, argv, code, needle = {
        "missing_ckpt": ("validate.py", base + ["--ckpt_path", str(tmp_path / "none.ckpt")], 2, "none.ckpt"),
        "bad_data_dir": ("train.py", tiny_recipe_args(str(tmp_path / "nowhere"), str(tmp_path / "o")), 1, "nowhere"),
        "unknown_key": ("train.py", base + ["--learning_rate", "0.1"], 2, "lr"),
        "wrong_model_ckpt": ("validate.py", base + ["--model", "preact_resnet29_cifar", "--ckpt_path",
                                                    os.path.join(ckpt_dir, f"{MODEL}_best.ckpt")], 1, "missing from the checkpoint"),
        "no_weights": ("validate.py", base, 1, "--ckpt_path"),
    }[case]
    result = run_entry(script, argv)
    assert result.returncode == code, result.stdout + result.stderr
    assert needle in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_mindcv_ascend_recipe_runs_on_cpu_and_its_checkpoints_validate(tmp_path):
    """MindCV's resnetv2_50 recipe (graph mode, jit O2, AMP O2, loss scale 1024, sink mode) on a CPU: only
    --distribute, --data_dir and here --epoch_size/--ema change; Ascend-only settings fall back with a warning."""
    data = make_colour_folder(str(tmp_path / "data"), classes=4, train_per_class=8, val_per_class=1, size=40)
    out = str(tmp_path / "run")
    recipe = os.path.join(REPO, "configs", "resnetv2", "resnetv2_50_ascend.yaml")
    common = ["-c", recipe, "--distribute", "False", "--data_dir", data, "--num_classes", "4"]
    result = run_entry("train.py", common + ["--epoch_size", "1", "--ckpt_save_dir", out, "--ema", "True"])
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout + result.stderr
    for fallback in ("amp_level O2", "dataset_sink_mode", "num_parallel_workers 8"):
        assert fallback in text, fallback
    assert "23,512,260 trainable parameters" in text  # 25,553,064 - (2048 x 1000 + 1000) + (2048 x 4 + 4)
    last = _metrics(out)[-1]
    for ema in ("True", "False"):
        json_path = str(tmp_path / f"ema_{ema}.json")
        checked = run_entry("validate.py", common + ["--ckpt_path", os.path.join(out, "resnetv2_50-1_1.ckpt"),
                                                     "--ema", ema, "--metrics_json", json_path])
        assert checked.returncode == 0, checked.stdout + checked.stderr
        metrics = read_json(json_path)
        assert metrics["num_samples"] == 4 and metrics["ema"] == (ema == "True")
        assert 0 <= metrics["top1"] <= metrics["top5"] <= 100
    # training validated the EMA weights: validate.py with --ema True reproduces that number
    assert read_json(str(tmp_path / "ema_True.json"))["loss"] == pytest.approx(float(last["val_loss"]), rel=1e-4)


def test_a_finished_run_can_be_extended_with_a_longer_epoch_size(trained, data_dir, tmp_path):
    import shutil

    ckpt_dir = str(tmp_path / "extended")
    shutil.copytree(trained[0], ckpt_dir)
    argv = tiny_recipe_args(data_dir, ckpt_dir, epochs=4) + ["--resume", "auto"]
    result = run_entry("train.py", argv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [int(r["epoch"]) for r in _metrics(ckpt_dir)] == [1, 2, 3, 4]
    assert os.path.isfile(os.path.join(ckpt_dir, f"{MODEL}-4_3.ckpt"))
