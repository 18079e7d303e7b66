"""Loader: batches and soft targets, exact determinism per (seed, epoch, shard), corrupt files, check and bench."""
import os
import subprocess
import sys

import mindspore.dataset as msds
import numpy as np
import pytest

from mindcv_resnetv2.data import UnreadableImageError, create_dataset, create_loader, create_transforms
from mindcv_resnetv2.data.check import main as check_main
from data_fixtures import collect, make_image_folder

TRAIN = dict(image_resize=24, color_jitter=0.4, re_prob=0.5, auto_augment="randaug-m9-n2-mstd0.5")


def epoch_loader(root, seed=0, epoch=0, workers=1, shard_id=None, num_shards=None, transform=None,
                 **loader_options):
    ds = create_dataset("imagenet", root, "train", shuffle=True, seed=seed, epoch=epoch,
                        num_shards=num_shards, shard_id=shard_id, num_parallel_workers=workers)
    # Training batches: MindCV's create_loader defaults are evaluation's (and cutmix_prob 0.0 mixes no batch).
    options = {"is_training": True, "drop_remainder": True, "cutmix_prob": 1.0, **loader_options}
    transform = transform or create_transforms("imagenet", is_training=True, **TRAIN)
    return create_loader(ds, batch_size=4, num_classes=3, transform=transform, num_parallel_workers=workers,
                         seed=seed, epoch=epoch, **options)


def epoch_batches(root, seed=0, epoch=0, workers=1, shard_id=None, num_shards=None, **loader_options):
    return collect(epoch_loader(root, seed, epoch, workers, shard_id, num_shards, **loader_options))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("folder"), classes=("a", "b", "c"), per_class=4)


def same(first, second):
    return len(first[0]) == len(second[0]) > 0 and all(
        np.array_equal(x, y) for x, y in zip(first[0] + first[1], second[0] + second[1]))


def test_batches_int_labels_and_nchw(folder):
    images, labels = epoch_batches(folder)
    assert [im.shape for im in images] == [(4, 3, 24, 24)] * 3
    assert images[0].dtype == np.float32 and labels[0].dtype == np.int32
    assert sorted(np.concatenate(labels).tolist()) == [0] * 4 + [1] * 4 + [2] * 4


def test_rebuilt_epoch_identical_with_two_workers(folder):
    first = epoch_batches(folder, seed=3, epoch=7, workers=2)
    assert same(first, epoch_batches(folder, seed=3, epoch=7, workers=2))
    assert not same(first, epoch_batches(folder, seed=3, epoch=8, workers=2))
    assert not same(first, epoch_batches(folder, seed=4, epoch=7, workers=2))


def test_fresh_process_reproduces_epoch(folder, tmp_path):
    script = (f"import numpy as np, sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
              f"from test_data_loader import epoch_batches\n"
              f"images, labels = epoch_batches({folder!r}, seed=3, epoch=7, workers=2, mixup=0.5, cutmix=1.0)\n"
              f"np.savez({str(tmp_path / 'out.npz')!r}, *images, *labels)\n")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    stored = np.load(tmp_path / "out.npz")
    here = epoch_batches(folder, seed=3, epoch=7, workers=2, mixup=0.5, cutmix=1.0)
    assert all(np.array_equal(stored[f"arr_{i}"], a) for i, a in enumerate(here[0] + here[1]))


def test_one_loader_moved_over_epochs_equals_a_loader_built_per_epoch(folder):
    """A run builds its loader once and moves it to each epoch (a resumed run: to the resume epoch): every epoch's
    batches -- order, C++ augmentation, random erasing, mixing -- equal those of a loader built for that epoch."""
    mixing = dict(mixup=0.5, cutmix=1.0)
    built = {epoch: epoch_batches(folder, seed=3, epoch=epoch, **mixing) for epoch in (0, 1, 2)}
    run_long = epoch_loader(folder, seed=3, epoch=0, **mixing)
    for epoch in (0, 1, 2):
        run_long.set_epoch(epoch)
        assert same(collect(run_long), built[epoch]), epoch
    resumed = epoch_loader(folder, seed=3, epoch=0, **mixing)
    resumed.set_epoch(2)
    assert same(collect(resumed), built[2])
    started_later = epoch_loader(folder, seed=3, epoch=1, **mixing)
    assert same(collect(started_later), built[1])
    started_later.set_epoch(2)
    assert same(collect(started_later), built[2])


def test_one_iterator_over_several_epochs_reads_each_epochs_order_and_mixing(folder):
    """What a dataset sink does on Ascend/GPU (one iterator for the whole run): epoch e reads epoch e's order and
    mixes as epoch e's loader does. Unaugmented images for that; augmented ones show that C++ augmentation continues
    one random stream over the iterator's epochs instead of taking each epoch's seed (see the trainer's docstring)."""
    def epochs_of(loader, count=2):
        iterator = loader.create_tuple_iterator(num_epochs=count, output_numpy=True)
        # MindSpore's iterator stops at each epoch's end and continues after it
        return [tuple(map(list, zip(*iterator))) for _ in range(count)]

    plain = dict(transform=create_transforms("imagenet", is_training=False, image_resize=16), mixup=0.5, cutmix=1.0)
    for epoch, read in zip((1, 2), epochs_of(epoch_loader(folder, seed=3, epoch=1, **plain))):
        assert same(read, collect(epoch_loader(folder, seed=3, epoch=epoch, **plain))), epoch
    first, second = epochs_of(epoch_loader(folder, seed=3, epoch=1))
    assert same(first, epoch_batches(folder, seed=3, epoch=1))
    assert not same(second, epoch_batches(folder, seed=3, epoch=2))  # MindSpore does not re-seed its ops per epoch


def test_shards_get_different_augmentation(folder):
    # shuffle order is shared by all ranks; with equal content the crops must still differ between ranks
    a = epoch_batches(folder, seed=1, num_shards=2, shard_id=0)
    b = epoch_batches(folder, seed=1, num_shards=2, shard_id=1)
    assert len(a[0]) == len(b[0]) == 1  # 12 // 2 = 6 samples, one full batch of 4 each
    assert not np.array_equal(a[0][0], b[0][0])


def test_loader_restores_callers_seed_and_numpy_state(folder):
    msds.config.set_seed(1234)
    np.random.seed(9)
    expected = np.random.random()
    np.random.seed(9)
    epoch_batches(folder)
    assert msds.config.get_seed() == 1234 and np.random.random() == expected


@pytest.mark.parametrize("mixup,cutmix,prob", [(0.8, 0.0, 1.0), (0.0, 1.0, 1.0), (0.8, 1.0, 0.5)])
def test_mixing_soft_targets(folder, mixup, cutmix, prob):
    images, labels = epoch_batches(folder, mixup=mixup, cutmix=cutmix, cutmix_prob=prob, label_smoothing=0.1)
    targets = np.concatenate(labels)
    assert targets.shape == (12, 3) and targets.dtype == np.float32
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-5)
    assert targets.min() >= 0.1 / 3 - 1e-6
    if prob == 1.0:
        assert (targets.max(1) < 1.0 - 0.1 + 0.1 / 3 - 1e-4).any()  # some labels actually mixed


def test_mixing_probability_zero_gives_smoothed_one_hot(folder):
    _, labels = epoch_batches(folder, mixup=0.8, cutmix_prob=0.0, label_smoothing=0.3)
    targets = np.concatenate(labels)
    np.testing.assert_allclose(np.unique(targets.round(5)), [0.1, 0.8], rtol=1e-6)


def test_eval_loader_without_mixing(folder):
    ds = create_dataset("imagenet", folder, "train", shuffle=False)
    loader = create_loader(ds, batch_size=5, drop_remainder=False, is_training=False, mixup=0.8, num_classes=3,
                           transform=create_transforms("imagenet", is_training=False, image_resize=16))
    images, labels = collect(loader)
    assert [len(x) for x in labels] == [5, 5, 2] and labels[0].dtype == np.int32
    assert loader.get_dataset_size() == 3
    assert same(collect(loader), (images, labels))  # built once per run, iterated at every validation


def _corrupt(folder_root):
    """Overwrite one JPEG with bytes that are no image (MindSpore's own decode error; cut JPEGs are in
    test_data_damaged_images)."""
    bad = os.path.join(folder_root, "train", "dog", "img1.jpg")
    with open(bad, "wb") as f:
        f.write(b"this is not a jpeg" * 10)
    return bad


def test_corrupt_image_reported_by_path(tmp_path):
    root = make_image_folder(tmp_path, per_class=3)
    bad = _corrupt(root)
    with pytest.raises(UnreadableImageError, match="img1.jpg.*data.check") as info:
        collect(create_loader(
            create_dataset("imagenet", root, "train", shuffle=False), batch_size=2, num_classes=2,
            transform=create_transforms("imagenet", image_resize=16)))
    assert os.path.samefile(info.value.path, bad)


def test_check_lists_unreadable_files(tmp_path, capsys):
    root = make_image_folder(tmp_path, per_class=2)
    assert check_main([root]) == 0
    bad = _corrupt(root)
    truncated = str(tmp_path / "train" / "cat" / "img0.jpg")
    data = open(truncated, "rb").read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    (tmp_path / "train" / "cat" / "fake.png").write_bytes(b"not a png")
    assert check_main([root]) == 1
    listed = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(listed) == sorted([bad, truncated, str(tmp_path / "train" / "cat" / "fake.png")])


def test_check_lists_a_file_it_cannot_open(tmp_path, capsys):
    root = make_image_folder(tmp_path, per_class=1)
    dangling = tmp_path / "train" / "cat" / "gone.jpg"
    os.symlink(tmp_path / "nowhere.jpg", dangling)
    assert check_main([root]) == 1
    out = capsys.readouterr().out
    assert f"{dangling}\tFileNotFoundError" in out


def test_check_of_a_missing_root_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        check_main([str(tmp_path / "nowhere")])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nowhere" in err and "is not a directory" in err
