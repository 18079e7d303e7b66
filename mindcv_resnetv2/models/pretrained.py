"""Published weights on disk: found in a local cache, or downloaded into one on first use and verified before use.

Caches, in lookup order: `$MINDCV_RESNETV2_HOME`, then MindCV's own download folder `~/.mindspore/models`, so a
file MindCV fetched is found and a file fetched here is found by MindCV. Downloads go to the first of them.
"""
import os

from ..checkpoint import hash_in_name
from ..errors import InvalidInputError
from ..utils.download import TIMEOUT_SECONDS, digest_matches, download_file
from ..utils.files import file_digest

WEIGHTS_DIR_ENV = "MINDCV_RESNETV2_HOME"
MINDCV_CACHE_DIR = os.path.join("~", ".mindspore", "models")


class PretrainedWeightsError(InvalidInputError):
    """Published weights cannot be used: no digest to verify them by, or a cached file that fails its digest."""


def cache_dirs():
    """The folders searched for weights, in order; the first one receives downloads."""
    dirs = [os.environ[WEIGHTS_DIR_ENV]] if os.environ.get(WEIGHTS_DIR_ENV) else []
    return dirs + [os.path.expanduser(MINDCV_CACHE_DIR)]


def expected_sha256(url, sha256=None):
    """The registry's full sha256, else the 8-hex prefix in a MindCV-style file name (resnetv2_50-3c2f143b.ckpt)."""
    if sha256:
        return sha256
    prefix = hash_in_name(url.rsplit("/", 1)[-1])
    if not prefix:
        raise PretrainedWeightsError(
            f"{url} has no sha256 in the registry and no hash in its file name, so it could not be verified: "
            "add its sha256 to the model's default_cfgs entry"
        )
    return prefix


def weights_file(url, sha256=None, timeout=TIMEOUT_SECONDS):
    """The verified local file of the weights published at `url`: from a cache, else downloaded into the first."""
    expected = expected_sha256(url, sha256)
    filename = url.rsplit("/", 1)[-1]
    candidates = [os.path.join(folder, filename) for folder in cache_dirs()]
    for path in candidates:
        if os.path.isfile(path):
            if not digest_matches(path, expected, "sha256"):
                raise PretrainedWeightsError(
                    f"cached weights '{path}' have sha256 {file_digest(path)}, expected {expected}...: the file is "
                    f"damaged or not the one published at {url}; delete it to download it again"
                )
            return path
    hint = (
        f"Without network access, fetch it elsewhere and put it at {' or '.join(candidates)} "
        f"(or set {WEIGHTS_DIR_ENV}), or pass the file with checkpoint_path / --ckpt_path."
    )
    return download_file(url, candidates[0], expected, "sha256", timeout, offline_hint=hint)
