"""pretrained=True: published weights found in the caches, or downloaded on first use and verified before use.

The "published" file is served by a loopback HTTP server (127.0.0.1 only), as the dataset download is tested.
"""
import functools
import hashlib
import http.server
import os
import socket
import threading

import numpy as np
import pytest

from mindcv_resnetv2.checkpoint import save_checkpoint
from mindcv_resnetv2.models import create_model, list_models, registry
from mindcv_resnetv2.models.pretrained import WEIGHTS_DIR_ENV, PretrainedWeightsError
from mindcv_resnetv2.utils.download import DownloadError, download_file

MODEL = "preact_resnet20_cifar"


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty caches: $MINDCV_RESNETV2_HOME and a HOME whose ~/.mindspore/models MindCV would use."""
    ours, home = tmp_path / "cache", tmp_path / "home"
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(ours))
    monkeypatch.setenv("HOME", str(home))
    return ours, home / ".mindspore" / "models"


@pytest.fixture
def published(tmp_path):
    """(served folder, weights of a fresh MODEL, sha256 of its file) and the loopback base URL serving the folder."""
    served = tmp_path / "served"
    net = create_model(MODEL, num_classes=10)
    path = save_checkpoint(net, str(served / "weights.ckpt"))
    sha256 = hashlib.sha256(open(path, "rb").read()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        weights = {p.name: p.asnumpy() for p in net.get_parameters()}
        yield served, weights, sha256, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _publish(monkeypatch, url, sha256=None):
    monkeypatch.setitem(registry._default_cfgs, MODEL, dict(registry.get_default_cfg(MODEL), url=url, sha256=sha256))


def _assert_weights(net, weights):
    for p in net.get_parameters():
        np.testing.assert_array_equal(p.asnumpy(), weights[p.name], err_msg=p.name)


def test_first_use_downloads_into_the_cache_then_uses_it_offline(published, caches, monkeypatch):
    served, weights, sha256, base = published
    name = f"{MODEL}-{sha256[:8]}.ckpt"  # MindCV's naming: the sha256 prefix in the file name
    os.rename(served / "weights.ckpt", served / name)
    _publish(monkeypatch, f"{base}/{name}")
    assert MODEL in list_models(pretrained=True)

    _assert_weights(create_model(MODEL, pretrained=True, num_classes=10), weights)
    ours, _ = caches
    assert sorted(os.listdir(ours)) == [name]  # renamed into place, no partial file left
    os.remove(served / name)  # the server no longer has it: the cached copy is used
    _assert_weights(create_model(MODEL, pretrained=True, num_classes=10), weights)


def test_grayscale_model_gets_the_first_conv_summed_over_rgb(published, caches, monkeypatch):
    served, weights, sha256, base = published
    _publish(monkeypatch, f"{base}/weights.ckpt", sha256=sha256)
    net = create_model(MODEL, pretrained=True, num_classes=10, in_channels=1)
    for p in net.get_parameters():
        expected = weights[p.name].sum(axis=1, keepdims=True) if p.name == "conv1.weight" else weights[p.name]
        np.testing.assert_allclose(p.asnumpy(), expected, rtol=1e-6, err_msg=p.name)


def test_mindcv_cache_is_searched_and_registry_sha256_verified(published, caches, monkeypatch):
    served, weights, sha256, base = published
    _, mindcv_cache = caches
    mindcv_cache.mkdir(parents=True)
    os.rename(served / "weights.ckpt", mindcv_cache / "weights.ckpt")
    _publish(monkeypatch, f"{base}/weights.ckpt", sha256=sha256)
    _assert_weights(create_model(MODEL, pretrained=True, num_classes=10), weights)

    (mindcv_cache / "weights.ckpt").write_bytes(b"damaged")
    with pytest.raises(PretrainedWeightsError, match=r"weights\.ckpt.*expected .*delete it"):
        create_model(MODEL, pretrained=True, num_classes=10)


@pytest.mark.parametrize("wrong", ["name", "registry"])
def test_wrong_hash_is_refused_and_nothing_is_cached(wrong, published, caches, monkeypatch):
    served, _, sha256, base = published
    if wrong == "name":
        os.rename(served / "weights.ckpt", served / f"{MODEL}-0badc0de.ckpt")
        _publish(monkeypatch, f"{base}/{MODEL}-0badc0de.ckpt")
    else:
        _publish(monkeypatch, f"{base}/weights.ckpt", sha256="0" * 64)
    with pytest.raises(DownloadError, match=rf"{base}/.*downloaded with sha256 {sha256}, expected 0"):
        create_model(MODEL, pretrained=True, num_classes=10)
    ours, _ = caches
    assert not ours.exists() or os.listdir(ours) == []


def test_offline_error_names_the_url_and_the_cache(caches, monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connection refused at once
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/{MODEL}-12345678.ckpt"
        _publish(monkeypatch, url)
        with pytest.raises(DownloadError, match=rf"could not download {url} .*put it at .*{MODEL}-12345678.ckpt"):
            create_model(MODEL, pretrained=True)
    finally:
        sock.close()
    ours, _ = caches
    assert not ours.exists() or os.listdir(ours) == []


def test_weights_without_any_hash_are_refused(caches, monkeypatch):
    _publish(monkeypatch, "http://127.0.0.1:9/weights.ckpt")
    with pytest.raises(PretrainedWeightsError, match="no sha256 in the registry and no hash in its file name"):
        create_model(MODEL, pretrained=True)


def test_models_without_published_weights_say_which_have_them():
    with pytest.raises(ValueError, match="'preact_resnet18' has no published weights.*resnetv2_50"):
        create_model("preact_resnet18", pretrained=True)
    with pytest.raises(ValueError, match="exclusive"):
        create_model("resnetv2_50", pretrained=True, checkpoint_path="x.ckpt")


def test_a_dropped_connection_is_named_as_such(tmp_path):
    class ShortBody(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server method name
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ShortBody)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/weights-0123abcd.ckpt"
    try:
        with pytest.raises(DownloadError, match=r"closed after 1000 of 100000 bytes"):
            download_file(url, str(tmp_path / "weights-0123abcd.ckpt"), "0123abcd")
    finally:
        server.shutdown()
        server.server_close()
    assert os.listdir(tmp_path) == []
