"""Nothing the user has is replaced by an output (issue 25): symlinks are followed, devices, FIFOs and
/dev/stdout are written into rather than renamed over, existing files are kept unless overwriting is asked for."""
import os
import subprocess
import sys

import pytest

from engine_fixtures import REPO
from mindcv_resnetv2.convert.__main__ import main as convert_main
from mindcv_resnetv2.deploy.export import output_path
from mindcv_resnetv2.utils.files import WriteError, atomic_output, write_text_atomic


def test_a_symlink_output_replaces_its_target_and_stays_a_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to("real.json")
    write_text_atomic(str(link), "new")
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]


def test_a_dangling_symlink_output_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    write_text_atomic(str(link), "new")
    assert link.is_symlink() and (tmp_path / "made.json").read_text() == "new"


def test_a_fifo_output_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader exists, so the writer's open does not block
    try:
        write_text_atomic(str(fifo), "through the pipe")
        assert os.read(reader, 1000) == b"through the pipe"
    finally:
        os.close(reader)
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["pipe"]


def test_a_full_device_is_the_no_space_error_and_stays_a_device():
    with pytest.raises(WriteError, match=r"cannot write metrics file '/dev/full': No space left on device"):
        write_text_atomic("/dev/full", "x" * 10000, what="metrics file")
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")


def test_a_library_writing_derived_names_into_a_device_writes_the_device(tmp_path):
    """MindSpore's exporters and savers write the name they are given (or a name derived from it): the bytes of
    that file reach the device, and no temporary is left anywhere the user looks."""
    fifo = tmp_path / "model.mindir"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with atomic_output(str(fifo), what="MINDIR file") as temporary:
            assert temporary.endswith(".mindir")
            with open(temporary, "wb") as handle:
                handle.write(b"model bytes")
        assert os.read(reader, 1000) == b"model bytes"
    finally:
        os.close(reader)
    assert os.listdir(tmp_path) == ["model.mindir"]


def test_dev_stdout_prints_between_the_other_output_and_stays_a_link():
    code = ("import sys\n"
            "from mindcv_resnetv2.utils.files import write_text_atomic\n"
            "print('before')\n"
            "write_text_atomic('/dev/stdout', '{\"top1\": 1}\\n', what='metrics file')\n"
            "print('after')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == 'before\n{"top1": 1}\nafter\n'
    assert os.path.islink("/dev/stdout")


def test_dev_stdout_redirected_to_a_file_keeps_that_files_other_output(tmp_path):
    code = ("from mindcv_resnetv2.utils.files import write_text_atomic\n"
            "print('table', flush=True)\n"
            "write_text_atomic('/dev/stdout', 'json\\n')\n"
            "print('after')\n")
    out = tmp_path / "out.txt"
    with open(out, "w") as handle:
        done = subprocess.run([sys.executable, "-c", code], stdout=handle, stderr=subprocess.PIPE, text=True,
                              cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "table\njson\nafter\n"


@pytest.mark.parametrize("device", ["/dev/null", "/dev/stdout"])
def test_export_never_appends_its_extension_to_a_device(device):
    assert output_path("MINDIR", device, "") == device
    assert output_path("ONNX", device, "") == device


def test_export_appends_its_extension_to_a_file_name(tmp_path):
    assert output_path("ONNX", str(tmp_path / "m"), "") == str(tmp_path / "m.onnx")


# Outputs that already exist ------------------------------------------------------------------------------------

def _timm_file(path):
    from test_convert import write_timm_file

    write_timm_file(path, num_classes=2)
    return path


def test_convert_refuses_to_write_over_its_own_input(tmp_path, capsys):
    source = _timm_file(tmp_path / "same.safetensors")
    before = source.read_bytes()
    assert convert_main(["timm", str(source), str(source)]) == 1
    assert source.read_bytes() == before
    err = capsys.readouterr().err
    assert f"output '{source}' is the input" in err and len(err.strip().splitlines()) == 1


def test_convert_refuses_an_existing_output_unless_overwrite(tmp_path, capsys):
    source = _timm_file(tmp_path / "model.safetensors")
    existing = tmp_path / "unrelated.ckpt"
    existing.write_bytes(b"someone else's file")
    assert convert_main(["timm", str(source), str(existing)]) == 1
    assert existing.read_bytes() == b"someone else's file"
    err = capsys.readouterr().err
    assert f"output '{existing}' already exists" in err and "--overwrite True" in err
    assert convert_main(["timm", str(source), str(existing), "--overwrite", "True"]) == 0
    assert existing.read_bytes() != b"someone else's file"


def test_convert_checks_its_output_before_reading_the_input(tmp_path, capsys, monkeypatch):
    import mindcv_resnetv2.convert.timm as timm

    monkeypatch.setattr(timm, "read_timm_weights", lambda path: pytest.fail("the input was read first"))
    (tmp_path / "out.ckpt").mkdir()
    assert convert_main(["timm", str(tmp_path / "in.safetensors"), str(tmp_path / "out.ckpt")]) == 1
    assert "is a directory" in capsys.readouterr().err


# One run per run folder (issue 25 item 2) ----------------------------------------------------------------------

HOLD_LOCK = ("import sys, time\n"
             "from mindcv_resnetv2.engine.run_state import RunFolderLock\n"
             "lock = RunFolderLock(sys.argv[1])\n"
             "print('held', flush=True)\n"
             "time.sleep(600)\n")


def _holder(folder):
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline() == "held\n", process.communicate()
    return process


def test_a_run_folder_held_by_a_live_run_is_refused_naming_the_folder_and_the_holder(tmp_path):
    from mindcv_resnetv2.engine.run_state import RunFolderLock, RunFolderLockedError

    holder = _holder(tmp_path)
    try:
        with pytest.raises(RunFolderLockedError) as excinfo:
            RunFolderLock(str(tmp_path))
        message = str(excinfo.value)
        assert f"'{tmp_path}'" in message and f"pid {holder.pid}" in message and "--ckpt_save_dir" in message
    finally:
        holder.kill()
        holder.communicate()
    RunFolderLock(str(tmp_path)).release()  # the holder died without releasing: its lock is stale


def test_a_released_lock_leaves_nothing_in_the_folder_and_frees_it(tmp_path):
    from mindcv_resnetv2.engine.run_state import RunFolderLock

    lock = RunFolderLock(str(tmp_path))
    assert os.listdir(tmp_path) != []
    lock.release()
    lock.release()  # releasing twice is harmless (error paths may)
    assert os.listdir(tmp_path) == []
    RunFolderLock(str(tmp_path)).release()
