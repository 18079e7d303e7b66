"""Where a user's files enter: the reference validate command, checkpoints of another model, full disks, runs that
fail early or late, Ctrl-C. Each test reproduces a failure a user met (issue 11) and asserts the clear outcome."""
import csv
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from engine_fixtures import REPO, make_colour_folder, read_json, run_entry, tiny_recipe_args

pytestmark = pytest.mark.slow
MODEL = "preact_resnet20_cifar"
MINDCV_RECIPE = os.path.join(REPO, "configs", "resnetv2", "resnetv2_50_ascend.yaml")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_colour_folder(str(tmp_path_factory.mktemp("colours")))


@pytest.fixture(scope="module")
def run_dir(data_dir, tmp_path_factory):
    """A finished 1-epoch run of MODEL; tests copy it before changing anything in it."""
    ckpt_dir = str(tmp_path_factory.mktemp("run") / "run")
    result = run_entry("train.py", tiny_recipe_args(data_dir, ckpt_dir, epochs=1))
    assert result.returncode == 0, result.stdout + result.stderr
    return ckpt_dir


def _copy(run_dir, tmp_path, name="copy"):
    target = str(tmp_path / name)
    shutil.copytree(run_dir, target)
    return target


def _listing(folder):
    """{name: (size, mtime)} of every file in folder: proof that nothing was touched."""
    return {name: (os.path.getsize(os.path.join(folder, name)), os.path.getmtime(os.path.join(folder, name)))
            for name in sorted(os.listdir(folder))}


def _error_lines(result):
    """stderr lines other than MindSpore's own warnings (e.g. its dataset engine's memory notice on a busy
    machine): what the user is told went wrong."""
    return [line for line in result.stderr.strip().splitlines()
            if line.strip() and not re.match(r"\[(WARNING|INFO)\] [A-Z]+\(", line)]


# 1. The reference validate command ---------------------------------------------------------------------------

def _mindcv_checkpoint(path, num_classes):
    """resnetv2_50 weights written by MindCV's own network and MindSpore's own save_checkpoint."""
    script = (
        "import sys, mindspore as ms\n"
        "from mindcv.models import create_model\n"
        f"net = create_model('resnetv2_50', num_classes={num_classes})\n"
        "ms.save_checkpoint(net, sys.argv[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return path


def test_mindcv_readme_validate_command_runs_on_one_device(tmp_path):
    data = make_colour_folder(str(tmp_path / "data"), classes=3, train_per_class=1, val_per_class=2, size=40)
    ckpt = _mindcv_checkpoint(str(tmp_path / "resnetv2_50.ckpt"), num_classes=3)
    json_path = str(tmp_path / "metrics.json")
    # MindCV's README command verbatim, plus the sizes a CPU test needs.
    argv = ["-c", MINDCV_RECIPE, "--data_dir", data, "--ckpt_path", ckpt,
            "--num_classes", "3", "--image_resize", "32", "--batch_size", "4", "--metrics_json", json_path]
    result = run_entry("validate.py", argv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not launched by msrun" in result.stdout and "one device" in result.stdout
    metrics = read_json(json_path)
    assert metrics["num_samples"] == 6 and 0 <= metrics["top1"] <= metrics["top5"] <= 100
    # train.py keeps refusing a distributed recipe without msrun, with the fix in the message.
    refused = run_entry("train.py", ["-c", MINDCV_RECIPE, "--data_dir", data, "--num_classes", "3",
                                     "--ckpt_save_dir", str(tmp_path / "never")])
    assert refused.returncode == 1
    assert "msrun" in refused.stderr and "--distribute False" in refused.stderr
    assert not os.path.exists(tmp_path / "never")


# 2. No score from a model that is not the checkpoint ----------------------------------------------------------

def test_validate_refuses_a_checkpoint_with_another_class_count(run_dir, tmp_path):
    four = make_colour_folder(str(tmp_path / "four"), classes=4, train_per_class=1, val_per_class=1)
    argv = tiny_recipe_args(four, str(tmp_path / "unused")) + [
        "--ckpt_path", os.path.join(run_dir, f"{MODEL}_best.ckpt"), "--metrics_json", str(tmp_path / "m.json")]
    result = run_entry("validate.py", argv)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "classifier.weight" in result.stderr and "(3, 64)" in result.stderr and "(4, 64)" in result.stderr
    assert "top-1" not in result.stdout
    assert not os.path.exists(tmp_path / "m.json")


@pytest.fixture(scope="module")
def deeper_run(data_dir, tmp_path_factory):
    """A finished 1-epoch run of preact_resnet56_cifar, whose parameter names include all of MODEL's."""
    ckpt_dir = str(tmp_path_factory.mktemp("deeper") / "run")
    result = run_entry("train.py", tiny_recipe_args(data_dir, ckpt_dir, epochs=1, model="preact_resnet56_cifar"))
    assert result.returncode == 0, result.stdout + result.stderr
    return ckpt_dir


def test_resume_auto_refuses_a_run_folder_of_another_model(deeper_run, data_dir, tmp_path):
    folder = _copy(deeper_run, tmp_path)
    before = _listing(folder)
    result = run_entry("train.py", tiny_recipe_args(data_dir, folder, epochs=2, model=MODEL) + ["--resume", "auto"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "preact_resnet56_cifar" in result.stderr and MODEL in result.stderr
    assert _listing(folder) == before  # recipe.yaml, metrics.csv and the log untouched


def test_resume_from_another_models_checkpoint_is_strict(deeper_run, data_dir, tmp_path):
    checkpoint = os.path.join(deeper_run, "preact_resnet56_cifar-1_3.ckpt")
    argv = tiny_recipe_args(data_dir, str(tmp_path / "new"), epochs=2, model=MODEL) + ["--resume", checkpoint]
    result = run_entry("train.py", argv)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unexpected" in result.stderr.lower() and "layer1.3.bn1" in result.stderr  # a block MODEL lacks
    assert "Resumed" not in result.stdout


def test_resume_auto_refuses_a_run_folder_with_another_class_count(run_dir, tmp_path):
    folder = _copy(run_dir, tmp_path)
    four = make_colour_folder(str(tmp_path / "four"), classes=4)
    before = _listing(folder)
    result = run_entry("train.py", tiny_recipe_args(four, folder, epochs=2) + ["--resume", "auto"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "3 classes" in result.stderr and "4" in result.stderr
    assert _listing(folder) == before


def test_resume_with_another_batch_size_is_refused(run_dir, data_dir, tmp_path):
    """The schedule is indexed by the optimizer's step: 3 updates per epoch resumed at 6 would follow another one."""
    folder = _copy(run_dir, tmp_path)
    before = _listing(folder)
    result = run_entry("train.py", tiny_recipe_args(data_dir, folder, epochs=2, batch_size=4) + ["--resume", "auto"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "3 optimizer updates in 1 epoch(s)" in result.stderr and "makes 6 per epoch" in result.stderr
    after = _listing(folder)
    after.pop("train_rank0.log"), before.pop("train_rank0.log")  # the log may say what was built before refusing
    assert after == before


# 4. Atomic files; a full disk is one clear line ---------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: large enough for a recipe and a log, too small for a checkpoint or an exported model."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_during_a_checkpoint_save_is_one_line(data_dir, small_disk):
    folder = str(small_disk / "run")
    result = run_entry("train.py", tiny_recipe_args(data_dir, folder, epochs=1))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = _error_lines(result)
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr  # MindSpore's own line dropped too
    assert f"{MODEL}-1_3.ckpt" in lines[0] and "free" in lines[0] and "No space left" in lines[0]
    leftovers = [name for name in os.listdir(folder) if ".tmp" in name or name.endswith(".ckpt")]
    assert leftovers == []
    metrics = os.path.join(folder, "metrics.csv")
    assert not os.path.exists(metrics) or len(list(csv.DictReader(open(metrics)))) == 0
    log = open(os.path.join(folder, "train_rank0.log")).read()
    assert "No space left" in log  # the late error is in the run's log too


def test_metrics_json_on_a_full_disk_leaves_no_empty_file(run_dir, data_dir, small_disk):
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (256 * 1024 - 4096 * 2))
    target = small_disk / "metrics.json"
    argv = tiny_recipe_args(data_dir, str(small_disk / "x")) + [
        "--ckpt_path", os.path.join(run_dir, f"{MODEL}_best.ckpt"), "--metrics_json", str(target)]
    with open(filler, "ab") as handle:  # fill the last blocks too
        try:
            handle.write(b"\0" * 8192)
        except OSError:
            pass
    result = run_entry("validate.py", argv)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "metrics.json" in result.stderr and "No space left" in result.stderr
    assert not target.exists()
    assert [n for n in os.listdir(small_disk) if n != "filler"] == []


def _export(run_dir, *extra):
    argv = ["-c", os.path.join(run_dir, "recipe.yaml"), "--ckpt_path", os.path.join(run_dir, f"{MODEL}_best.ckpt")]
    return run_entry("export.py", argv + list(extra))


def test_export_on_a_full_disk_leaves_no_file_under_the_final_name(run_dir, small_disk):
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (200 * 1024))
    result = _export(run_dir, "--output", str(small_disk / "m.mindir"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "m.mindir" in result.stderr and "No space left" in result.stderr
    assert sorted(os.listdir(small_disk)) == ["filler"]


@pytest.mark.parametrize("file_format", ["MINDIR", "ONNX"])
def test_export_never_changes_the_mode_of_an_existing_folder(run_dir, tmp_path, file_format):
    existing = tmp_path / "deploy"
    existing.mkdir()
    os.chmod(existing, 0o755)
    as_dir = existing / ("model" + (".mindir" if file_format == "MINDIR" else ".onnx"))
    as_dir.mkdir()
    os.chmod(as_dir, 0o755)
    refused = _export(run_dir, "--file_format", file_format, "--output", str(as_dir))
    assert refused.returncode == 1 and "is a directory" in refused.stderr, refused.stderr
    assert len(_error_lines(refused)) == 1
    written = _export(run_dir, "--file_format", file_format, "--output", str(existing / "net"))
    assert written.returncode == 0, written.stdout + written.stderr
    assert os.stat(existing).st_mode & 0o777 == 0o755 and os.stat(as_dir).st_mode & 0o777 == 0o755
    assert [n for n in os.listdir(existing) if n.startswith(".")] == []


def test_export_with_an_upper_case_extension_writes_the_lower_case_name(run_dir, tmp_path):
    result = _export(run_dir, "--output", str(tmp_path / "m.MINDIR"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert os.listdir(tmp_path) == ["m.mindir"]


def test_export_into_a_path_under_a_file_is_one_line(run_dir, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = _export(run_dir, "--output", str(blocker / "m.mindir"))
    assert result.returncode == 1
    assert len(_error_lines(result)) == 1 and "afile" in result.stderr and "not a folder" in result.stderr


def test_resume_auto_skips_a_corrupt_newest_checkpoint_even_with_a_newer_summary(data_dir, tmp_path):
    folder = str(tmp_path / "run")
    assert run_entry("train.py", tiny_recipe_args(data_dir, folder, epochs=2)).returncode == 0
    newest = os.path.join(folder, f"{MODEL}-2_3.ckpt")
    with open(newest, "r+b") as handle:
        handle.truncate(os.path.getsize(newest) // 2)
    os.utime(newest + ".json")  # the summary is newer than the damaged file
    from mindcv_resnetv2.engine.run_state import resolve_resume

    assert resolve_resume("auto", folder) == os.path.join(folder, f"{MODEL}-1_3.ckpt")
    result = run_entry("train.py", tiny_recipe_args(data_dir, folder, epochs=2) + ["--resume", "auto"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{MODEL}-2_3.ckpt" in result.stdout and "Resuming from" in result.stdout


# 5. Fail before the work, not after it -------------------------------------------------------------------------

def test_a_missing_validation_split_fails_before_the_first_step(data_dir, tmp_path):
    no_val = str(tmp_path / "no_val")
    shutil.copytree(os.path.join(data_dir, "train"), os.path.join(no_val, "train"))
    folder = tmp_path / "run"
    result = run_entry("train.py", tiny_recipe_args(no_val, str(folder), epochs=1))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "val" in result.stderr and "step 1/" not in result.stdout
    assert not folder.exists()


def test_validation_classes_must_be_the_training_classes(data_dir, tmp_path):
    other = str(tmp_path / "other")
    shutil.copytree(data_dir, other)
    shutil.rmtree(os.path.join(other, "val", "class_1"))
    result = run_entry("train.py", tiny_recipe_args(other, str(tmp_path / "run"), epochs=1))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "class_1" in result.stderr


@pytest.mark.parametrize("case", ["unknown_model", "missing_data"])
def test_an_early_failure_leaves_no_run_folder(case, data_dir, tmp_path):
    folder = tmp_path / "new" / "nested" / "run"
    overrides = {"unknown_model": dict(model="preact_resnet21_cifar"),
                 "missing_data": dict(data_dir=str(tmp_path / "nowhere"))}[case]
    argv = tiny_recipe_args(overrides.pop("data_dir", data_dir), str(folder), **overrides)
    result = run_entry("train.py", argv)
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert not (tmp_path / "new").exists()


def test_a_run_folder_under_a_file_is_one_line(data_dir, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run_entry("train.py", tiny_recipe_args(data_dir, str(tmp_path / "afile" / "run")))
    assert result.returncode == 1
    assert len(_error_lines(result)) == 1 and "afile" in result.stderr and "not a folder" in result.stderr


def test_metrics_json_target_is_checked_before_the_evaluation(run_dir, data_dir, tmp_path):
    target = tmp_path / "out.json"
    target.mkdir()
    argv = tiny_recipe_args(data_dir, str(tmp_path / "x")) + [
        "--ckpt_path", os.path.join(run_dir, f"{MODEL}_best.ckpt"), "--metrics_json", str(target)]
    result = run_entry("validate.py", argv)
    assert result.returncode == 1 and "is a directory" in result.stderr
    assert "top-1" not in result.stdout


def test_metrics_json_to_dev_stdout_prints_the_metrics(run_dir, data_dir, tmp_path):
    argv = tiny_recipe_args(data_dir, str(tmp_path / "x")) + [
        "--ckpt_path", os.path.join(run_dir, f"{MODEL}_best.ckpt"), "--metrics_json", "/dev/stdout"]
    result = run_entry("validate.py", argv)
    assert result.returncode == 0, result.stderr
    assert '"top1":' in result.stdout and os.path.islink("/dev/stdout")


def test_a_broken_matplotlib_is_one_warning_after_a_successful_run(data_dir, tmp_path):
    fake = tmp_path / "fake_site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('matplotlib is broken here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "fake_site"), os.environ.get("PYTHONPATH", "")]))
    folder = str(tmp_path / "run")
    result = run_entry("train.py", tiny_recipe_args(data_dir, folder, epochs=1), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "learning curves" in result.stdout.lower() and "matplotlib is broken here" in result.stdout
    assert os.path.isfile(os.path.join(folder, f"{MODEL}-1_3.ckpt"))
    assert not os.path.exists(os.path.join(folder, "learning_curves.png"))


def _long_run(folder, data_dir):
    """A 200-epoch run of MODEL into `folder`, once its second checkpoint is saved."""
    argv = tiny_recipe_args(data_dir, folder, epochs=200, decay_epochs=200, val_while_train=False)
    process = subprocess.Popen([sys.executable, os.path.join(REPO, "train.py")] + argv, cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while not glob.glob(os.path.join(folder, f"{MODEL}-2_3.ckpt")) and time.time() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.5)
    return process


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_says_where_the_last_checkpoint_is_and_frees_the_folder(data_dir, tmp_path, sent):
    folder = str(tmp_path / "run")
    process = _long_run(folder, data_dir)
    process.send_signal(sent)
    out, err = process.communicate(timeout=30)  # a generous bound: it takes well under a second
    assert process.returncode == 130, out + err
    lines = _error_lines(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "--resume auto" in lines[0] and f"{MODEL}-" in lines[0] and folder in lines[0]
    assert not [name for name in os.listdir(folder) if "lock" in name]


def test_a_second_run_into_a_busy_folder_is_refused_and_changes_nothing(data_dir, tmp_path):
    folder = str(tmp_path / "run")
    first = _long_run(folder, data_dir)
    try:
        before = {name: open(os.path.join(folder, name), "rb").read() for name in os.listdir(folder)
                  if name not in ("train_rank0.log", "train_loss_steps.csv", "metrics.csv") and "lock" not in name
                  and not name.startswith(f"{MODEL}-")}
        second = run_entry("train.py", tiny_recipe_args(data_dir, folder, epochs=2) + ["--overwrite", "True"])
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=300)
    assert second.returncode == 1
    lines = _error_lines(second)
    assert len(lines) == 1 and folder in lines[0] and f"pid {first.pid}" in lines[0], second.stderr
    after = {name: open(os.path.join(folder, name), "rb").read() for name in before}
    assert after == before  # recipe.yaml and class_names.txt are the first run's
    epochs = [row["epoch"] for row in csv.DictReader(open(os.path.join(folder, "metrics.csv")))]
    assert len(epochs) == len(set(epochs))
