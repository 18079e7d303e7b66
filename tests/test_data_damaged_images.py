"""Damaged image files: every path that decodes refuses them with UnreadableImageError naming the file.

MindSpore 2.8's Decode and RandomCropDecodeResize kill the process (SIGFPE, SIGSEGV) on a JPEG cut between its frame
header and its scan, and crash or hang on some cut progressive JPEGs. Code that may hand such a file to a MindSpore
decoder runs in a child process here, so a signal death or a hang fails the test instead of killing pytest.
"""
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine_fixtures import REPO, make_colour_folder, run_entry, tiny_recipe_args
from mindcv_resnetv2.checkpoint import save_checkpoint
from mindcv_resnetv2.data import UnreadableImageError, create_dataset
from mindcv_resnetv2.data.check import unreadable_files
from mindcv_resnetv2.data.file_check import refuse_damaged_files
from mindcv_resnetv2.data.image_bytes import file_problem, image_bytes_problem
from mindcv_resnetv2.models import create_model

MODEL = "preact_resnet20_cifar"
STEP = 16


def encoded(width, height, seed=0, **save):
    """A smooth noisy RGB image (photo-like JPEG sizes) encoded with PIL's ``save`` options."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8))
    pixels = np.asarray(coarse.resize((width, height), Image.BICUBIC), np.int16) + rng.integers(-12, 13, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, **save)
    return buffer.getvalue()


# Every format the ImageFolder reader accepts and MindSpore decodes, a few KB each (WebP: refused, tested below).
FORMATS = {
    "baseline.jpg": encoded(96, 72, format="JPEG", quality=90),
    "progressive.jpg": encoded(96, 72, format="JPEG", quality=90, progressive=True),
    "image.png": encoded(24, 18, format="PNG"),
    "image.bmp": encoded(24, 18, format="BMP"),
    "image.tif": encoded(24, 18, format="TIFF"),
}


def cut_jpeg(path, length=200):
    """A JPEG cut after `length` bytes (`head -c 200 good.jpg > bad.jpg`): frame header present, scan missing."""
    with open(path, "wb") as handle:
        handle.write(encoded(16, 16, format="JPEG")[:length])
    return path


def write_cuts(root):
    """One ImageFolder per (format, cut length): every 16th length and the whole file. Returns {root: (file, cut)}."""
    folders = {}
    for name, data in FORMATS.items():
        for length in sorted(set(range(0, len(data), STEP)) | {len(data)}):
            folder = os.path.join(root, f"{name}-{length}")
            os.makedirs(os.path.join(folder, "train", "c"))
            path = os.path.join(folder, "train", "c", name)
            with open(path, "wb") as handle:
                handle.write(data[:length])
            folders[folder] = (path, length < len(data))
    return folders


# Runs in a child process (a decoder crash must fail the test, not kill pytest): each file through the check, and
# the files it passes through MindSpore's two decoders, called directly. One line per file.
DECODERS = """
import sys
import numpy as np
from mindspore.dataset import vision
from mindcv_resnetv2.data.file_check import refuse_damaged_files
from mindcv_resnetv2.data.image_bytes import file_problem, image_bytes_problem
decoders = (vision.Decode(), vision.RandomCropDecodeResize(8))  # evaluation's decoder, training's fused one
for path in sys.argv[1:]:
    data = np.fromfile(path, np.uint8)
    outcomes = ["check"] if image_bytes_problem(data) else []
    for decode in decoders if not outcomes else ():
        try:
            decode(data)
            outcomes.append("decoded")
        except RuntimeError:
            outcomes.append("error")
    print(path, *outcomes, flush=True)
"""


def test_every_cut_of_every_format_is_refused_by_the_check_or_by_mindsporess_decoders(tmp_path):
    """What the pipelines' decode step meets: each cut is refused before MindSpore sees it, or both its decoders
    raise (an error the loader turns into UnreadableImageError); whole files decode."""
    cuts = {path: cut for path, cut in write_cuts(str(tmp_path)).values()}
    child = subprocess.run([sys.executable, "-c", DECODERS, *cuts], capture_output=True, text=True, timeout=300,
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": REPO})
    outcomes = {path: rest for path, *rest in map(str.split, child.stdout.splitlines())}
    assert child.returncode == 0 and len(outcomes) == len(cuts), (child.returncode, child.stdout[-500:])
    for path, cut in cuts.items():
        assert outcomes[path] in ((["check"], ["error", "error"]) if cut else (["decoded", "decoded"],)), path


# MindSpore 2.8 starts a pipeline's threads at its first batch, one op after the other, while the first ops already
# read; an error raised before the last op has started can leave it waiting forever (a lost wake-up in its thread
# start-up; scripts/mindspore_startup_hang.py reproduces it). A damaged file read that early is a user's real case,
# but a hang there says nothing about our naming, so here it comes after more good files than the ops buffer.
GOOD_BEFORE = 600
PIPELINES = """
import sys
from mindcv_resnetv2.data import UnreadableImageError, create_dataset, create_loader, create_transforms
for root in sys.argv[1:]:
    for training in (True, False):
        try:  # the file check refuses when the dataset is built, MindSpore's decoder when the row is read
            loader = create_loader(create_dataset("imagenet", root, "train", shuffle=False), batch_size=1,
                                   is_training=training, num_parallel_workers=1,
                                   transform=create_transforms("imagenet", is_training=training, image_resize=8))
            count = sum(len(images) for images, _ in loader.create_tuple_iterator(output_numpy=True))
            print(root, training, "decoded", count, flush=True)
        except UnreadableImageError as exc:
            print(root, training, "unreadable", exc.path, exc.reason.replace(" ", "_"), flush=True)
"""


def _folder_after_good_files(root, name, data):
    """An ImageFolder whose file `name` (holding `data`) comes after GOOD_BEFORE whole PNGs (hard links of one)."""
    folder = os.path.join(root, "train", "c")
    os.makedirs(folder)
    good = os.path.join(folder, "a0000.png")
    with open(good, "wb") as handle:
        handle.write(FORMATS["image.png"])
    for i in range(1, GOOD_BEFORE):
        os.link(good, os.path.join(folder, f"a{i:04d}.png"))
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write(data)
    return os.path.join(folder, name)


@pytest.mark.slow
def test_damaged_files_are_refused_by_name_in_both_pipelines(tmp_path):
    """Both ways a damaged file is refused in the training (fused decode) and evaluation (decode) pipelines: by
    the file check when the dataset is built (a JPEG cut inside its header), by MindSpore's decoder (a cut BMP);
    each names the file."""
    jpeg = _folder_after_good_files(str(tmp_path / "jpeg"), "z.jpg", FORMATS["baseline.jpg"][:300])
    bmp = _folder_after_good_files(str(tmp_path / "bmp"), "z.bmp", FORMATS["image.bmp"][:700])
    assert image_bytes_problem(FORMATS["image.bmp"][:700]) is None  # left to MindSpore's decoder
    whole = tmp_path / "whole" / "train" / "c"
    whole.mkdir(parents=True)
    for name, data in FORMATS.items():
        (whole / name).write_bytes(data)
    roots = [str(tmp_path / "jpeg"), str(tmp_path / "bmp"), str(tmp_path / "whole")]
    child = subprocess.run([sys.executable, "-c", PIPELINES, *roots], capture_output=True, text=True, timeout=600,
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": REPO})
    outcomes = {(root, training == "True"): rest for root, training, *rest in map(str.split, child.stdout.splitlines())}
    assert child.returncode == 0 and len(outcomes) == 6, (child.returncode, child.stdout[-500:], child.stderr[-2000:])
    for training in (True, False):
        assert outcomes[roots[0], training][:2] == ["unreadable", jpeg], outcomes[roots[0], training]
        assert outcomes[roots[0], training][2].startswith("JPEG_cut_at_byte_300,_inside_its_header")
        assert outcomes[roots[1], training][:2] == ["unreadable", bmp], outcomes[roots[1], training]
        assert outcomes[roots[2], training] == ["decoded", str(len(FORMATS))]


@pytest.mark.filterwarnings("ignore:.*(Truncated File Read|Corrupt EXIF):UserWarning")  # PIL on cut TIFFs
def test_check_lists_every_cut_and_no_whole_file(tmp_path):
    folders = write_cuts(str(tmp_path))
    listed, total = unreadable_files(str(tmp_path))
    assert total == len(folders)
    assert sorted(path for path, _ in listed) == sorted(path for path, cut in folders.values() if cut)


def test_reading_a_file_on_demand_finds_what_reading_it_whole_finds(tmp_path):
    """file_problem reads a header block and the last bytes: on every cut, and on files whose check needs more (a
    header longer than the first block, data after the end marker), it gives the whole-file answer."""
    jpeg, png = FORMATS["baseline.jpg"], FORMATS["image.png"]
    long_header = jpeg[:2] + b"\xff\xe1" + (9002).to_bytes(2, "big") + bytes(9000) + jpeg[2:]  # APP1 of 9 KB
    files = {"long_header.jpg": long_header, "trailer.jpg": jpeg + b"camera trailer " * 10,
             "png_trailer.png": png + bytes(100), "cut_long_header.jpg": long_header[:7000],
             "trailer_no_end.jpg": jpeg[:-2] + bytes(100), "text.jpg": b"not an image\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = {str(tmp_path / name): data for name, data in files.items()}
    paths.update((path, (tmp_path / path).read_bytes()) for path, _ in write_cuts(str(tmp_path / "cuts")).values())
    for path, data in paths.items():
        assert file_problem(path) == image_bytes_problem(data), path
    assert [file_problem(str(tmp_path / name)) is None for name in files] == [True] * 3 + [False] * 3


def test_a_text_file_named_jpg_is_refused_by_name_before_mindspore_sees_it(tmp_path):
    """MindSpore's Decode prints several error lines of its own on such a file; the check refuses it first."""
    root = make_colour_folder(str(tmp_path), classes=2, train_per_class=1, val_per_class=1)
    text = os.path.join(root, "train", "class_1", "notes.jpg")
    with open(text, "w") as handle:
        handle.write("shopping list\n")
    with pytest.raises(UnreadableImageError) as caught:
        create_dataset("imagenet", root, "train")
    assert caught.value.path == text
    assert caught.value.reason == ("not an image MindSpore decodes: it starts with b'shopping', not a JPEG, PNG, "
                                   "BMP or TIFF signature")


def test_a_split_is_checked_once_until_a_file_changes(tmp_path, monkeypatch):
    """The cache (path, size, mtime) spares unchanged files; a file damaged later is checked and refused by name;
    with several damaged files the error names the first and counts the others."""
    from mindcv_resnetv2.data import file_check

    monkeypatch.setenv(file_check.CACHE_VARIABLE, str(tmp_path / "cache"))
    root = make_colour_folder(str(tmp_path / "data"), classes=2, train_per_class=3, val_per_class=1)
    split = os.path.join(root, "train")
    checked = []
    monkeypatch.setattr(file_check, "file_problem", lambda path: checked.append(path) or file_problem(path))
    create_dataset("imagenet", root, "train")
    assert len(checked) == 6
    create_dataset("imagenet", root, "train")
    assert len(checked) == 6  # nothing read again
    first, second = os.path.join(split, "class_0", "1.png"), os.path.join(split, "class_1", "2.png")
    good = open(first, "rb").read()
    for path in (first, second):
        with open(path, "wb") as handle:
            handle.write(good[:40])
    with pytest.raises(UnreadableImageError) as caught:
        refuse_damaged_files(split, ["class_0", "class_1"])
    assert sorted(checked[6:]) == [first, second]
    assert caught.value.path == first
    assert caught.value.reason == (f"PNG cut at byte 40 (no IEND chunk); 1 more file(s) of {split!r} are damaged too")
    with open(first, "wb") as handle:
        handle.write(good)
    os.remove(second)
    create_dataset("imagenet", root, "train")
    assert checked[8:] == [first]


@pytest.mark.parametrize("damage, reason", [
    pytest.param(lambda d, at: d[:at["C0"]] + d[at["C0"] + 19:], "no frame header", id="no SOF"),
    pytest.param(lambda d, at: d[:at["DB"]] + d[at["C0"]:], r"quantization table\(s\) \[0, 1\]", id="no DQT"),
    pytest.param(lambda d, at: d[:300] + b"\xff\xd9", "JPEG cut at byte 302, inside its header", id="EOI in header"),
    pytest.param(lambda d, at: d[:-2], "no end-of-image marker", id="no EOI"),
    pytest.param(lambda d, at: d[:at["C0"] + 9] + b"\x00" + d[at["C0"] + 10:], "damaged JPEG frame header",
                 id="SOF without components"),
])
def test_jpeg_headers_that_crash_mindspore_are_refused(damage, reason):
    """No SOF and no DQT crash MindSpore 2.8's decoders with SIGSEGV, an EOI inside the header with SIGFPE."""
    data = FORMATS["baseline.jpg"]
    at = {"DB": data.index(b"\xff\xdb"), "C0": data.index(b"\xff\xc0")}
    assert image_bytes_problem(data) is None
    assert re.search(reason, image_bytes_problem(damage(data, at)) or "")


def test_jpegs_that_decode_are_accepted():
    """Fill bytes before markers and data after the end marker (camera trailers) are valid JPEG."""
    data = FORMATS["baseline.jpg"]
    assert image_bytes_problem(data + b"trailer from a camera") is None
    assert image_bytes_problem(data[:2] + b"\xff\xff" + data[2:]) is None
    assert image_bytes_problem(np.frombuffer(data, np.uint8)) is None  # as the pipeline hands it over
    # Stray bytes between two segments: libjpeg skips them to the next marker (with a warning) and decodes.
    second = 4 + int.from_bytes(data[4:6], "big")
    stray = data[:second] + b"\x00junk" + data[second:]
    with Image.open(io.BytesIO(stray)) as image:
        image.load()
    assert image_bytes_problem(stray) is None


def test_lossless_jpeg_frames_need_no_quantization_table():
    """SOF3 (lossless) frames use table id 0 without any DQT segment; only their header is checked here."""
    sof3 = b"\xff\xc3\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00"  # 8 bits, 16x16, one component
    sos = b"\xff\xda\x00\x08\x01\x01\x00\x01\x00\x00"
    assert image_bytes_problem(b"\xff\xd8" + sof3 + sos + b"\x12\x34" + b"\xff\xd9") is None
    assert "quantization table" in image_bytes_problem(b"\xff\xd8" + sof3.replace(b"\xc3", b"\xc0", 1) + sos
                                                       + b"\x12\x34\xff\xd9")


@pytest.mark.parametrize("fmt", ["WEBP", "GIF"])
def test_formats_mindspore_cannot_decode_are_refused_by_name(fmt):
    data = encoded(16, 16, format=fmt)
    assert f"a {'WebP' if fmt == 'WEBP' else fmt} file: MindSpore's Decode does not read" in image_bytes_problem(data)
    assert image_bytes_problem(data, mindspore_decodes=False) is None  # infer.py decodes with PIL for array recipes


def test_the_error_names_the_file_and_the_reason():
    error = UnreadableImageError("/data/train/a/b.jpg", "JPEG cut at byte 200")
    assert str(error).startswith("cannot read image '/data/train/a/b.jpg' (JPEG cut at byte 200). ")
    assert "mindcv_resnetv2.data.check" in str(error) and error.path == "/data/train/a/b.jpg"


@pytest.fixture(scope="module")
def damaged_folder(tmp_path_factory):
    """A tiny ImageFolder (PNG images) with one cut JPEG in train/ and in val/."""
    root = make_colour_folder(str(tmp_path_factory.mktemp("damaged")), classes=2, train_per_class=2,
                              val_per_class=2)
    for split in ("train", "val"):
        cut_jpeg(os.path.join(root, split, "class_1", "cut.jpg"))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("script, crop_padding", [
    ("train.py", "null"),  # ImageNet-style training: decode fused with random-resized-crop
    ("train.py", "2"),  # small-image training: plain decode, resize, padded crop
    ("validate.py", "2"),  # evaluation: plain decode, resize, center crop
])
def test_a_cut_jpeg_is_one_line_naming_it(damaged_folder, tmp_path, script, crop_padding):
    argv = tiny_recipe_args(damaged_folder, str(tmp_path / "run"), epochs=1, batch_size=2, crop_padding=crop_padding)
    if script == "validate.py":
        save_checkpoint(create_model(MODEL, num_classes=2), str(tmp_path / "model.ckpt"))
        argv += ["--ckpt_path", str(tmp_path / "model.ckpt")]
    result = run_entry(script, argv, timeout=300)
    split = "val" if script == "validate.py" else "train"
    bad = os.path.join(damaged_folder, split, "class_1", "cut.jpg")
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith(script + ": error:")]
    assert len(errors) == 1 and repr(bad) in errors[0] and "inside its header" in errors[0], result.stderr[-2000:]


@pytest.mark.slow
def test_a_text_file_named_jpg_is_one_line_from_train_py(tmp_path):
    """Issue 25: MindSpore printed four `[ERROR] MD ... Decode` lines before our error; now only our line."""
    root = make_colour_folder(str(tmp_path / "data"), classes=2, train_per_class=2, val_per_class=1)
    text = os.path.join(root, "train", "class_0", "readme.jpg")
    with open(text, "w") as handle:
        handle.write("this folder holds the training images\n")
    result = run_entry("train.py", tiny_recipe_args(root, str(tmp_path / "run"), epochs=1, batch_size=2), timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"train.py: error: cannot read image {text!r} (not an image MindSpore decodes: it starts with "
                      f"b'this fol', not a JPEG, PNG, BMP or TIFF signature). Replace or delete it; `python -m "
                      f"mindcv_resnetv2.data.check ROOT` lists every unreadable image file of a dataset"], result.stderr
