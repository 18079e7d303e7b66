"""The datasets ``download=True`` fetches: CIFAR-10/100 (binary), MNIST and Fashion-MNIST, their URLs and MD5 sums,
and the layout they are unpacked into (utils.download does the fetching and its checks).

The URL table can be redirected without code changes: ``MINDCV_RESNETV2_DATA_MIRROR=<base URL>`` makes every file
``<base URL>/<file name>`` (a local ``file://`` folder or an internal HTTP mirror). The MD5 sums are those of the
upstream files (as published by the dataset authors and torchvision's download table).
"""
import logging
import os
import tarfile

from ..errors import InvalidInputError
from ..utils.download import TIMEOUT_SECONDS, download_file, mirrored_url
from .sources import CIFAR_DIRS

_logger = logging.getLogger(__name__)

MIRROR_ENV = "MINDCV_RESNETV2_DATA_MIRROR"

_MNIST_BASE = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# dataset -> [(upstream url, md5)]; .tar.gz archives are extracted into root
DOWNLOADS = {
    "cifar10": [("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")],
    "cifar100": [("https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8")],
    "mnist": [
        (_MNIST_BASE + "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        (_MNIST_BASE + "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        (_MNIST_BASE + "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        (_MNIST_BASE + "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ],
    "fashion_mnist": [
        (_FASHION_BASE + "train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        (_FASHION_BASE + "train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        (_FASHION_BASE + "t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        (_FASHION_BASE + "t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ],
}


def download_dataset(name, root, mirror=None, timeout=TIMEOUT_SECONDS):
    """Fetch dataset ``name`` into ``root`` in the layout ``create_dataset`` reads (archives are extracted).

    Files come from ``mirror``, else the mirror in MINDCV_RESNETV2_DATA_MIRROR, else upstream; a file already in
    ``root`` with the right MD5 is kept without touching the network.
    """
    if name not in DOWNLOADS:
        raise InvalidInputError(f"download=True supports {sorted(DOWNLOADS)}, not {name!r}; "
                                "place ImageFolder data by hand")
    os.makedirs(root, exist_ok=True)
    mirror = mirror or os.environ.get(MIRROR_ENV)
    for url, md5 in DOWNLOADS[name]:
        file_name = url.rsplit("/", 1)[-1]
        destination = os.path.join(root, file_name)
        hint = (f"Without network access, download the file elsewhere and place it at {destination!r}, or set "
                f"{MIRROR_ENV} to a folder/URL that holds it")
        path = download_file(mirrored_url(url, mirror), destination, md5, "md5", timeout, offline_hint=hint)
        if file_name.endswith(".tar.gz") and not os.path.isdir(os.path.join(root, CIFAR_DIRS[name])):
            _logger.info("extracting %s", path)
            with tarfile.open(path, "r:gz") as archive:
                archive.extractall(root, filter="data")
    return root
