"""infer.py and export.py on a tiny ImageFolder and a freshly initialised preact_resnet20_cifar checkpoint."""
import argparse
import importlib.util
import json
import logging
import os
import stat
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest
from PIL import Image

from data_fixtures import make_image_folder
from mindcv_resnetv2.checkpoint import save_checkpoint
from mindcv_resnetv2.config import KEY_BY_NAME
from mindcv_resnetv2.data import create_transforms
from mindcv_resnetv2.data.sources import FASHION_MNIST_CLASSES
from mindcv_resnetv2.deploy import cli
from mindcv_resnetv2.deploy.infer import softmax
from mindcv_resnetv2.models import create_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "preact_resnet20_cifar"
FOLDER_CLASSES = ("cat", "dog", "frog")
RUN_CLASS_NAMES = ["Cat (run)", "Dog (run)", "Frog (run)"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """An ImageFolder val split (3 classes x 2 images, one in a sub-folder), a checkpoint with the training
    run's class_names.txt beside it, a second copy of it without, and an ImageFolder recipe at 32 pixels."""
    root = tmp_path_factory.mktemp("deploy")
    data = make_image_folder(str(root / "data"), split="val", classes=FOLDER_CLASSES, per_class=2, size=(40, 30))
    os.makedirs(root / "data" / "val" / "frog" / "more")
    Image.fromarray(np.full((24, 24), 200, np.uint8), "L").save(root / "data" / "val" / "frog" / "more" / "gray.png")
    net = create_model(MODEL, num_classes=3)
    save_checkpoint(net, str(root / "run" / "model.ckpt"))
    (root / "run" / "class_names.txt").write_text("\n".join(RUN_CLASS_NAMES) + "\n")
    save_checkpoint(net, str(root / "bare" / "model.ckpt"))
    recipe = root / "recipe.yaml"
    recipe.write_text(f"model: {MODEL}\ndataset: imagenet\ndata_dir: {data}\nimage_resize: 32\nmode: 1\n")
    return root


@pytest.fixture(autouse=True)
def restore_process_state():
    """The tools set MindSpore's mode and the package logger's handlers; give the next test what it had."""
    logger = logging.getLogger("mindcv_resnetv2")
    handlers, propagate, level, mode = list(logger.handlers), logger.propagate, logger.level, ms.get_context("mode")
    yield
    logger.handlers[:], logger.propagate, logger.level = handlers, propagate, level
    ms.set_context(mode=mode)


def recipe_args(ws, ckpt="run/model.ckpt"):
    return ["-c", str(ws / "recipe.yaml"), "--ckpt_path", str(ws / ckpt)]


def run_tool(main, argv, capsys):
    """(exit status, stdout, stderr) of an in-process tool run."""
    try:
        main(argv)
        status = 0
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def expected_probabilities(ws, image_path, ckpt="run/model.ckpt"):
    """Softmax of the checkpoint's logits on the recipe's eval transforms, computed without the deploy package."""
    net = create_model(MODEL, num_classes=3, checkpoint_path=str(ws / ckpt))
    net.set_train(False)
    image = np.fromfile(image_path, np.uint8)
    for op in create_transforms("imagenet", is_training=False, image_resize=32):
        image = op(image)
    return softmax(net(ms.Tensor(image[None])).asnumpy().astype(np.float64))[0]


def test_infer_on_a_file_prints_and_writes_top_k_with_the_runs_class_names(workspace, capsys):
    image = str(workspace / "data" / "val" / "dog" / "img1.jpg")
    json_path = workspace / "one.json"
    status, out, _ = run_tool(cli.main_infer, recipe_args(workspace) + ["--input", image, "--top_k", "2",
                                                                       "--json", str(json_path)], capsys)
    assert status == 0
    result = json.loads(json_path.read_text())
    assert result["class_names_source"].endswith(os.path.join("run", "class_names.txt"))
    [entry] = result["results"]
    assert entry["image"] == image
    predictions = entry["predictions"]
    probabilities = [p["probability"] for p in predictions]
    assert len(predictions) == 2
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0 + 1e-9
    expected = expected_probabilities(workspace, image)
    order = np.argsort(-expected)[:2]
    assert [p["class_index"] for p in predictions] == order.tolist()
    assert [p["class_name"] for p in predictions] == [RUN_CLASS_NAMES[i] for i in order]
    np.testing.assert_allclose(probabilities, expected[order], rtol=1e-5)
    lines = out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("image  "))):]
    assert table[0].split() == ["image", "rank", "class", "index", "probability"]
    assert image in table[1] and RUN_CLASS_NAMES[order[0]] in table[1] and f"{expected[order[0]]:.4f}" in table[1]
    assert RUN_CLASS_NAMES[order[1]] in table[2]


def test_infer_on_a_folder_predicts_every_image_with_the_dataset_class_names(workspace, capsys):
    """No class_names.txt beside this checkpoint: the recipe's ImageFolder names the classes. top_k above the
    class count shows every class; images of other sizes and a gray PNG in a sub-folder are included."""
    json_path = workspace / "folder.json"
    status, _, _ = run_tool(cli.main_infer, recipe_args(workspace, "bare/model.ckpt") + [
        "--input", str(workspace / "data" / "val"), "--top_k", "10", "--json", str(json_path)], capsys)
    assert status == 0
    results = json.loads(json_path.read_text())["results"]
    names = [os.path.relpath(r["image"], workspace / "data" / "val") for r in results]
    assert names == ["cat/img0.jpg", "cat/img1.jpg", "dog/img0.jpg", "dog/img1.jpg", "frog/img0.jpg",
                     "frog/img1.jpg", os.path.join("frog", "more", "gray.png")]
    for result in results:
        probabilities = [p["probability"] for p in result["predictions"]]
        assert sorted(p["class_name"] for p in result["predictions"]) == list(FOLDER_CLASSES)
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
    first = results[0]["predictions"]
    expected = expected_probabilities(workspace, str(workspace / "data" / "val" / "cat" / "img0.jpg"),
                                      "bare/model.ckpt")
    assert first[0]["class_index"] == int(np.argmax(expected))


def test_infer_with_an_array_dataset_recipe_decodes_files_to_its_gray_layout(tmp_path, capsys):
    """A Fashion-MNIST recipe (1 channel, resize-only eval) on PNG files, without the dataset on disk: the
    model sees the gray pixels, and the class names are Fashion-MNIST's."""
    net = create_model(MODEL, num_classes=10, in_channels=1)
    save_checkpoint(net, str(tmp_path / "fm.ckpt"))
    (tmp_path / "fm.yaml").write_text(f"model: {MODEL}\ndataset: fashion_mnist\ndata_dir: {tmp_path}/none\n"
                                      "in_channels: 1\nimage_resize: 32\nmean: [72.9]\nstd: [90.0]\nmode: 1\n")
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(tmp_path / "item.png")
    json_path = tmp_path / "fm.json"
    status, _, _ = run_tool(cli.main_infer, ["-c", str(tmp_path / "fm.yaml"), "--ckpt_path", str(tmp_path / "fm.ckpt"),
                                             "--input", str(tmp_path / "item.png"), "--top_k", "3",
                                             "--json", str(json_path)], capsys)
    assert status == 0
    predictions = json.loads(json_path.read_text())["results"][0]["predictions"]
    image = pixels[:, :, None]
    for op in create_transforms("fashion_mnist", is_training=False, image_resize=32, mean=[72.9], std=[90.0],
                                in_channels=1):
        image = op(image)
    expected = softmax(net(ms.Tensor(image[None])).asnumpy().astype(np.float64))[0]
    order = np.argsort(-expected)[:3]
    assert [p["class_name"] for p in predictions] == [FASHION_MNIST_CLASSES[i] for i in order]
    np.testing.assert_allclose([p["probability"] for p in predictions], expected[order], rtol=1e-5)


@pytest.fixture(scope="module")
def broken_inputs(workspace):
    good = (workspace / "data" / "val" / "cat" / "img0.jpg").read_bytes()
    (workspace / "truncated.jpg").write_bytes(good[:200])
    (workspace / "notes.png").write_text("not an image")
    os.makedirs(workspace / "no_images", exist_ok=True)
    (workspace / "no_images" / "readme.txt").write_text("nothing here")
    (workspace / "cut.ckpt").write_bytes((workspace / "run" / "model.ckpt").read_bytes()[:5000])
    (workspace / "two_names.txt").write_text("a\nb\n")
    return workspace


@pytest.mark.parametrize("change, status, message", [
    ({"--input": "missing.jpg"}, 1, "input '{ws}/missing.jpg' does not exist"),
    ({"--input": "truncated.jpg"}, 1, "cannot read image '{ws}/truncated.jpg'"),
    ({"--input": "notes.png"}, 1, "cannot read image '{ws}/notes.png'"),
    ({"--input": "no_images"}, 1, "input folder '{ws}/no_images' holds no image files"),
    ({"--ckpt_path": "missing.ckpt"}, 2, "ckpt_path '{ws}/missing.ckpt' is not a file"),
    ({"--ckpt_path": "cut.ckpt"}, 1, "Cannot read checkpoint '{ws}/cut.ckpt'"),
    ({"--num_classes": "5"}, 1, "this one has model preact_resnet20_cifar with 5 classes"),
    ({"--model": "preact_resnet56_cifar"}, 1, "does not match the network"),
    ({"--model": "preact_resnet32_cifar"}, 1, "Unknown model 'preact_resnet32_cifar'"),
    ({"--class_names": "two_names.txt"}, 1, "class names file '{ws}/two_names.txt' has 2 names but the model has 3"),
])
def test_infer_errors_are_one_line_with_a_non_zero_status(broken_inputs, capsys, change, status, message):
    ws = broken_inputs
    options = {"--input": "data/val/cat/img0.jpg", **change}
    paths = ("--input", "--ckpt_path", "--class_names")
    argv = ["-c", str(ws / "recipe.yaml"), "--ckpt_path", str(ws / "run" / "model.ckpt")]
    for option, value in options.items():
        argv += [option, str(ws / value) if option in paths else value]
    got_status, _, err = run_tool(cli.main_infer, argv, capsys)
    assert got_status == status
    assert message.format(ws=ws) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_infer_without_weights_says_how_to_give_them(workspace, capsys):
    status, _, err = run_tool(cli.main_infer, ["-c", str(workspace / "recipe.yaml"), "--input",
                                               str(workspace / "data")], capsys)
    assert status == 1 and "no weights given: pass --ckpt_path" in err


def test_export_mindir_reproduces_the_checkpoint_with_a_dynamic_batch(workspace, capsys):
    output = workspace / "exported" / "model"
    status, out, _ = run_tool(cli.main_export, recipe_args(workspace) + ["--output", str(output), "--mode", "0"],
                              capsys)
    assert status == 0
    path = str(output) + ".mindir"
    assert f"exported MINDIR to {path} (input Nx3x32x32, float32)" in out
    assert "max |exported - checkpoint| output difference: " in out
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(workspace / "run" / "model.ckpt").st_mode)
    net = create_model(MODEL, num_classes=3, checkpoint_path=str(workspace / "run" / "model.ckpt"))
    net.set_train(False)
    sample = ms.Tensor(np.random.default_rng(7).standard_normal((3, 3, 32, 32)).astype(np.float32))
    exported = ms.nn.GraphCell(ms.load(path))(sample).asnumpy()
    np.testing.assert_allclose(exported, net(sample).asnumpy(), atol=1e-4)


def test_export_default_output_is_beside_the_checkpoint_with_its_name(workspace, capsys):
    status, out, _ = run_tool(cli.main_export, recipe_args(workspace, "bare/model.ckpt") + ["--batch", "2"], capsys)
    assert status == 0
    assert f"exported MINDIR to {workspace / 'bare' / 'model.mindir'} (input 2x3x32x32, float32)" in out
    assert os.path.isfile(workspace / "bare" / "model.mindir")


def test_export_refuses_an_existing_output_unless_overwrite(workspace, capsys):
    existing = workspace / "existing.onnx"
    existing.write_bytes(b"an unrelated model")
    argv = recipe_args(workspace) + ["--file_format", "ONNX", "--output", str(existing)]
    status, out, err = run_tool(cli.main_export, argv, capsys)
    assert status == 1 and existing.read_bytes() == b"an unrelated model"
    assert f"output '{existing}' already exists" in err and "--overwrite True" in err and "exported" not in out
    status, out, err = run_tool(cli.main_export, argv + ["--overwrite", "True"], capsys)
    assert status == 0, err
    assert f"exported ONNX to {existing}" in out and existing.read_bytes() != b"an unrelated model"


def test_export_onnx_is_checked_with_onnxruntime(workspace, capsys):
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.fail("onnxruntime is needed to check ONNX exports: pip install onnxruntime")
    import onnxruntime

    output = workspace / "exported" / "model.onnx"
    status, out, _ = run_tool(cli.main_export, recipe_args(workspace) + ["--file_format", "onnx",
                                                                        "--output", str(output)], capsys)
    assert status == 0
    assert f"exported ONNX to {output} (input 1x3x32x32, float32)" in out
    assert f"checked with onnxruntime {onnxruntime.__version__}" in out
    difference = float(out.split("output difference: ")[1].split()[0])
    assert difference <= 1e-4


def test_export_onnx_without_onnxruntime_writes_the_file_and_says_it_is_unchecked(workspace, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    output = workspace / "unchecked.onnx"
    status, out, _ = run_tool(cli.main_export, recipe_args(workspace) + ["--file_format", "ONNX",
                                                                        "--output", str(output)], capsys)
    assert status == 0 and os.path.getsize(output) > 0
    assert "not verified: onnxruntime is not installed (pip install onnxruntime)" in out


def test_export_air_is_refused_off_ascend(workspace, capsys):
    assert ms.get_context("device_target") != "Ascend"
    status, _, err = run_tool(cli.main_export, recipe_args(workspace) + ["--file_format", "AIR"], capsys)
    assert status == 1 and "AIR export needs MindSpore on Ascend" in err and "--file_format MINDIR" in err
    assert not os.path.exists(workspace / "run" / "model.air")


def _r18_export(tmp_path, capsys):
    save_checkpoint(create_model("preact_resnet18", num_classes=2), str(tmp_path / "r18.ckpt"))
    (tmp_path / "r18.yaml").write_text("model: preact_resnet18\nimage_resize: 32\nmode: 1\n")
    return run_tool(cli.main_export, ["-c", str(tmp_path / "r18.yaml"), "--ckpt_path", str(tmp_path / "r18.ckpt"),
                                      "--file_format", "ONNX"], capsys)


def test_export_onnx_of_the_paper_layout_uses_the_exportable_stem_pool(tmp_path, capsys):
    """MindSpore 2.8 has no ONNX converter for the paper stem's padded max-pool: export swaps in the
    exportable form (same outputs), and onnxruntime reproduces the checkpoint's logits."""
    status, out, err = _r18_export(tmp_path, capsys)
    assert status == 0, err
    assert "checked with onnxruntime" in out and os.path.isfile(tmp_path / "r18.onnx")


def test_export_of_an_operator_without_converter_says_to_use_mindir(tmp_path, capsys, monkeypatch):
    def no_converter(*args, **kwargs):
        raise RuntimeError("Can not find key SomeOp in convert map.\n----- C++ Call Stack -----")

    monkeypatch.setattr(ms.onnx, "export", no_converter)
    status, _, err = _r18_export(tmp_path, capsys)
    assert status == 1
    assert "cannot export this network to ONNX: Can not find key SomeOp" in err and "Export MINDIR instead" in err


def test_help_lists_the_tool_options_first_then_the_recipe_keys_by_topic(capsys):
    status, out, _ = run_tool(cli.main_export, ["--help"], capsys)
    assert status == 0
    for text in ("export.py options:", "--file_format {MINDIR,ONNX,AIR}", "(default: MINDIR)", "--batch N",
                 "System:", "Model and initial weights:", "--ckpt_path"):
        assert text in out
    assert out.index("export.py options:") < out.index("System:")


def test_infer_script_help_and_error_status():
    """The top-level script itself: --help exits 0 with the grouped options; a missing input exits 1."""
    wide = dict(os.environ, COLUMNS="200")  # argparse wraps help at the terminal width
    shown = subprocess.run([sys.executable, os.path.join(REPO, "infer.py"), "--help"], capture_output=True,
                           text=True, timeout=300, env=wide)
    assert shown.returncode == 0
    assert "infer.py options:" in shown.stdout and "--top_k K" in shown.stdout and "(default: 5)" in shown.stdout
    assert shown.stdout.index("infer.py options:") < shown.stdout.index("Dataset:")
    failed = subprocess.run([sys.executable, os.path.join(REPO, "infer.py"), "--input", "/nonexistent/x.jpg",
                             "--ckpt_path", ""], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1
    assert "infer.py: error: input '/nonexistent/x.jpg' does not exist" in failed.stderr


def test_tool_options_do_not_shadow_recipe_keys():
    parser = argparse.ArgumentParser()
    cli.add_infer_options(parser)
    cli.add_export_options(parser)
    tool_options = set(vars(parser.parse_args(["--input", "x"])))
    assert tool_options == {"input", "top_k", "class_names", "json", "file_format", "output", "batch"}
    assert not tool_options & set(KEY_BY_NAME)
