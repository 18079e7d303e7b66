"""Datasets: every kind reads correctly, sharding partitions, bad layouts fail naming the path, download works."""
import functools
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from mindcv_resnetv2.data import (DatasetLayoutError, create_dataset, create_loader, create_transforms,
                                  download_dataset, read_class_names)
from mindcv_resnetv2.data import download as download_module
from mindcv_resnetv2.data.sharding import epoch_indices
from mindcv_resnetv2.utils.download import DownloadError
from data_fixtures import collect, labels_of, make_image_folder, write_cifar, write_idx, write_mnist

FASHION = "/usr/share/datasets/fashion-mnist"


def test_image_folder_classes_sorted_and_labels(tmp_path):
    root = make_image_folder(tmp_path, classes=("zebra", "ant", "moth"), per_class=2)
    ds = create_dataset("imagenet", root, "train", shuffle=False)
    assert ds.class_names == ["ant", "moth", "zebra"]
    assert read_class_names("imagenet", root, "train") == ["ant", "moth", "zebra"]
    assert ds.get_dataset_size() == 6
    assert sorted(labels_of(ds)) == [0, 0, 1, 1, 2, 2]


def test_imagefolder_is_another_name_of_the_imagenet_layout(tmp_path):
    from mindcv_resnetv2.config import parse_args

    root = make_image_folder(tmp_path, classes=("b", "a"), per_class=2)
    assert parse_args(["--dataset", "imagefolder"]).dataset == "imagefolder"
    assert create_dataset("imagefolder", root, "train", shuffle=False).class_names == ["a", "b"]


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_class_names_of_a_folder_without_idx_files_name_the_folder(tmp_path, name):
    """A recipe for Fashion-MNIST given an ImageFolder's data_dir: an error naming it, not ten class names."""
    root = make_image_folder(tmp_path, per_class=1)
    with pytest.raises(DatasetLayoutError, match=f"IDX file '{root}/train-labels-idx1-ubyte'"):
        read_class_names(name, root, "train")


def test_image_folder_reads_uppercase_extensions(tmp_path):
    root = make_image_folder(tmp_path, per_class=2, ext=".JPEG")
    assert create_dataset("imagenet", root, "train", shuffle=False).get_dataset_size() == 4


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_binary(tmp_path, name):
    root = write_cifar(tmp_path, name)
    train = create_dataset(name, root, "train", shuffle=False)
    val = create_dataset(name, root, "val", shuffle=False)
    per_file = 6
    assert train.get_dataset_size() == (5 * per_file if name == "cifar10" else per_file)
    assert val.get_dataset_size() == 4
    image, label = next(val.create_tuple_iterator(output_numpy=True))
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert labels_of(create_dataset(name, root, "test", shuffle=False)) == [0, 1, 2, 3]
    assert len(train.class_names) == (10 if name == "cifar10" else 100)


def test_cifar_names_file_used(tmp_path):
    root = write_cifar(tmp_path, "cifar10")
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (tmp_path / "cifar-10-batches-bin" / "batches.meta.txt").write_text("\n".join(names) + "\n")
    assert read_class_names("cifar10", root) == names


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_raw_and_gz_grayscale_to_rgb(tmp_path, gz):
    root = write_mnist(tmp_path, gz=gz)
    ds = create_dataset("mnist", root, "train", shuffle=False)
    image, label = next(ds.create_tuple_iterator(output_numpy=True))
    assert image.shape == (28, 28, 3) and (image[..., 0] == image[..., 2]).all()
    assert labels_of(create_dataset("mnist", root, "val", shuffle=False)) == [0, 1, 2, 3, 4]
    gray = create_dataset("mnist", root, "train", shuffle=False, in_channels=1)
    assert next(gray.create_tuple_iterator(output_numpy=True))[0].shape == (28, 28, 1)


def test_real_fashion_mnist_gz():
    ds = create_dataset("fashion_mnist", FASHION, "val", shuffle=False)
    assert ds.get_dataset_size() == 10000
    assert ds.class_names[9] == "Ankle boot"
    assert create_dataset("fashion_mnist", FASHION, "train", shuffle=False).get_dataset_size() == 60000


def test_two_split_datasets_reject_unknown_split(tmp_path):
    root = write_mnist(tmp_path)
    with pytest.raises(ValueError, match="'holdout'"):
        create_dataset("mnist", root, "holdout")


def test_synthetic_fixed_across_epochs_and_sized():
    first = create_dataset("synthetic", split="train", shuffle=False, image_size=(12, 20), num_classes=3,
                           synthetic_length=5)
    again = create_dataset("synthetic", split="train", shuffle=False, image_size=(12, 20), num_classes=3,
                           synthetic_length=5, epoch=4)
    rows_a = list(first.create_tuple_iterator(output_numpy=True))
    rows_b = list(again.create_tuple_iterator(output_numpy=True))
    assert rows_a[0][0].shape == (12, 20, 3) and len(rows_a) == 5
    assert all((a[0] == b[0]).all() and a[1] == b[1] for a, b in zip(rows_a, rows_b))
    assert all(0 <= int(r[1]) < 3 for r in rows_a)


def test_in_memory_data_follows_the_loaders_epoch():
    """Arrays (GeneratorDataset) are read in each epoch's order by one loader, as image folders are."""
    def loader(epoch):
        dataset = create_dataset("synthetic", split="train", shuffle=True, seed=1, epoch=epoch, image_size=8,
                                 num_classes=3, synthetic_length=12)
        return create_loader(dataset, batch_size=4, is_training=False, num_classes=3,
                             transform=create_transforms("synthetic", is_training=False, image_resize=8))

    built = [np.concatenate(collect(loader(epoch))[0]) for epoch in (0, 1)]
    assert not np.array_equal(built[0], built[1])
    run_long = loader(0)
    for epoch in (0, 1):
        run_long.set_epoch(epoch)
        assert np.array_equal(np.concatenate(collect(run_long)[0]), built[epoch])
    iterator = loader(0).create_tuple_iterator(num_epochs=2, output_numpy=True)
    for epoch in (0, 1):
        assert np.array_equal(np.concatenate([batch[0] for batch in iterator]), built[epoch])


@pytest.mark.parametrize("n,shards", [(10, 3), (7, 2), (9, 3), (5, 4)])
def test_eval_shards_partition_exactly(n, shards):
    parts = [epoch_indices(n, shuffle=False, seed=0, epoch=0, num_shards=shards, shard_id=k, equal_shards=False)
             for k in range(shards)]
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(n))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_train_shards_equal_disjoint_and_reshuffled_per_epoch():
    n, shards = 11, 3
    parts = [epoch_indices(n, shuffle=True, seed=5, epoch=2, num_shards=shards, shard_id=k, equal_shards=True)
             for k in range(shards)]
    assert [len(p) for p in parts] == [3, 3, 3]
    assert len(set(np.concatenate(parts).tolist())) == 9
    other = epoch_indices(n, shuffle=True, seed=5, epoch=3, num_shards=shards, shard_id=0, equal_shards=True)
    assert other.tolist() != parts[0].tolist()


def test_repeated_augmentation_sends_copies_to_other_ranks():
    n, shards, repeats = 12, 3, 3
    parts = [epoch_indices(n, shuffle=True, seed=0, epoch=0, num_shards=shards, shard_id=k, equal_shards=True,
                           num_aug_repeats=repeats) for k in range(shards)]
    assert [len(p) for p in parts] == [4, 4, 4]
    assert parts[0].tolist() == parts[1].tolist() == parts[2].tolist()  # each sample seen once per rank, 3 ranks


def test_sharded_image_folder_union_is_whole_split(tmp_path):
    root = make_image_folder(tmp_path, classes=("a", "b", "c"), per_class=3)
    images = []
    for k in range(2):
        ds = create_dataset("imagenet", root, "train", shuffle=False, num_shards=2, shard_id=k)
        images += [row[0].tobytes() for row in ds.create_tuple_iterator(output_numpy=True)]
    assert len(images) == 9 and len(set(images)) == 9
    train = [create_dataset("imagenet", root, "train", shuffle=True, num_shards=2, shard_id=k).get_dataset_size()
             for k in range(2)]
    assert train == [4, 4]


def test_num_samples_limits_epoch(tmp_path):
    root = make_image_folder(tmp_path, per_class=3)
    assert create_dataset("imagenet", root, "train", num_samples=4).get_dataset_size() == 4


def test_wrong_root(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"nowhere.*ROOT/<split>/<class name>"):
        create_dataset("imagenet", str(tmp_path / "nowhere"), "train")


def test_missing_split(tmp_path):
    root = make_image_folder(tmp_path, split="train")
    with pytest.raises(DatasetLayoutError, match=r"val.*does not exist.*\['train'\]"):
        create_dataset("imagenet", root, "val")


def test_empty_class_folder(tmp_path):
    root = make_image_folder(tmp_path)
    os.makedirs(tmp_path / "train" / "empty")
    with pytest.raises(DatasetLayoutError, match=r"empty'? is empty"):
        create_dataset("imagenet", root, "train")


def test_folder_without_images(tmp_path):
    root = make_image_folder(tmp_path)
    os.makedirs(tmp_path / "train" / "notes")
    (tmp_path / "train" / "notes" / "readme.txt").write_text("x")
    with pytest.raises(DatasetLayoutError, match=r"notes'? has 1 files but no images"):
        create_dataset("imagenet", root, "train")


def test_class_folder_name_not_utf8_named_in_one_line_error(tmp_path):
    """MindSpore cannot pass a non-UTF-8 class name to its C++ reader: refuse naming the folder, before any pipeline."""
    root = make_image_folder(tmp_path, classes=("ok", os.fsdecode(b"cls\xff")), per_class=1)
    with pytest.raises(DatasetLayoutError, match=r"class folder .*cls\\xff.* not UTF-8.*rename") as caught:
        create_dataset("imagenet", root, "train")
    assert "\n" not in str(caught.value)


def test_split_folder_path_not_utf8_named(tmp_path):
    root = make_image_folder(tmp_path / os.fsdecode(b"data\xfe"), per_class=1)
    with pytest.raises(DatasetLayoutError, match=r"split folder .*data\\xfe.* not UTF-8"):
        create_dataset("imagenet", root, "train")


def test_split_without_class_folders(tmp_path):
    os.makedirs(tmp_path / "train")
    with pytest.raises(DatasetLayoutError, match="no class folders"):
        create_dataset("imagenet", str(tmp_path), "train")


def test_missing_cifar_and_idx_files_named(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"data_batch_1\.bin.*download=True"):
        create_dataset("cifar10", str(tmp_path), "train")
    with pytest.raises(DatasetLayoutError, match=r"train-images-idx3-ubyte"):
        create_dataset("fashion_mnist", str(tmp_path), "train")
    write_idx(str(tmp_path / "train-images-idx3-ubyte"), np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"garbage!")
    with pytest.raises(DatasetLayoutError, match="bad magic"):
        create_dataset("mnist", str(tmp_path), "train")


def _mirror_table(monkeypatch, name, files):
    monkeypatch.setitem(download_module.DOWNLOADS, name,
                        [(f"https://example.invalid/{f.name}", hashlib.md5(f.read_bytes()).hexdigest())
                         for f in files])


def test_download_from_file_mirror_verifies_md5(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_mnist(mirror, gz=True)
    _mirror_table(monkeypatch, "mnist", sorted(mirror.iterdir()))
    monkeypatch.setenv(download_module.MIRROR_ENV, mirror.as_uri())
    root = str(tmp_path / "data")
    ds = create_dataset("mnist", root, "train", shuffle=False, download=True)
    assert ds.get_dataset_size() == 7
    first = sorted(mirror.iterdir())[0]
    monkeypatch.setitem(download_module.DOWNLOADS, "mnist", [(f"https://x.invalid/{first.name}", "0" * 32)])
    os.remove(os.path.join(root, first.name))
    with pytest.raises(DownloadError, match="expected 0000"):
        download_dataset("mnist", root)
    assert not os.path.exists(os.path.join(root, first.name))


def test_download_cifar_archive_over_loopback_http(tmp_path, monkeypatch):
    import tarfile
    source = tmp_path / "src"
    write_cifar(source, "cifar10")
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "cifar-10-binary.tar.gz", "w:gz") as archive:
        archive.add(source / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    _mirror_table(monkeypatch, "cifar10", [served / "cifar-10-binary.tar.gz"])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv(download_module.MIRROR_ENV, f"http://127.0.0.1:{server.server_address[1]}")
        ds = create_dataset("cifar10", str(tmp_path / "data"), "val", shuffle=False, download=True)
        assert ds.get_dataset_size() == 4
    finally:
        server.shutdown()


def test_download_without_network_fails_fast_with_remedy(tmp_path, monkeypatch):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connection refused at once
    port = sock.getsockname()[1]
    monkeypatch.setenv(download_module.MIRROR_ENV, f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(DownloadError, match=r"could not download .*place it at"):
            download_dataset("fashion_mnist", str(tmp_path))
    finally:
        sock.close()


def test_download_rejects_image_folder_names(tmp_path):
    with pytest.raises(ValueError, match="download=True supports"):
        download_dataset("imagenet", str(tmp_path))
