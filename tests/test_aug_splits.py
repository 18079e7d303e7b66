"""aug_splits (MindCV's augmentation splits): each training image yields k views -- the clean one, then k-1 with the
auto-augment policy -- batched as [clean batch; view-1 batch; ...] with the labels repeated, and the JSD loss."""
import types

import numpy as np
import pytest
from mindspore import Tensor

from mindcv_resnetv2.config import ConfigError, parse_args
from mindcv_resnetv2.data import create_dataset, create_loader, create_transforms
from mindcv_resnetv2.optim import create_loss

SIZE, CLASSES = 16, 4


def _batches(transform, separate, aug_splits=3, seed=7):
    dataset = create_dataset("synthetic", shuffle=False, seed=seed, image_size=SIZE, num_classes=CLASSES,
                             synthetic_length=4)
    loader = create_loader(dataset, batch_size=2, is_training=True, transform=transform, separate=separate,
                           aug_splits=aug_splits, num_parallel_workers=1, seed=seed)
    return list(loader.create_tuple_iterator(output_numpy=True))


def _ops(auto_augment, separate):
    return create_transforms("synthetic", SIZE, is_training=True, auto_augment=auto_augment, separate=separate,
                             color_jitter=0.0, re_prob=0.5)


def test_split_batch_carries_the_clean_view_then_distinct_augmented_views():
    batches = _batches(_ops("augmix-m5-w2", separate=True), separate=True)
    plain = _batches(_ops(None, separate=False), separate=False)
    assert len(batches) == len(plain) == 2
    for (images, labels), (clean, clean_labels) in zip(batches, plain):
        assert images.shape == (6, 3, SIZE, SIZE) and images.dtype == np.float32
        assert labels.dtype == np.int32 and labels.tolist() == clean_labels.tolist() * 3
        # the clean view is exactly what the pipeline without the policy gives, same sample and seed
        np.testing.assert_array_equal(images[:2], clean)
        views = images.reshape(3, 2, -1)
        assert not np.array_equal(views[1], views[0]) and not np.array_equal(views[2], views[1])


def test_two_splits_give_one_augmented_view():
    images, labels = _batches(_ops("randaug-m9-n2", separate=True), separate=True, aug_splits=2)[0]
    assert images.shape == (4, 3, SIZE, SIZE) and labels.tolist()[:2] == labels.tolist()[2:]


def test_separate_needs_the_three_part_transform():
    with pytest.raises(ValueError, match=r"separate=True.*create_transforms\(.*separate=True\)"):
        _batches(_ops("augmix", separate=False), separate=True)


def test_mindspore_random_ops_are_refused_for_more_than_one_augmented_view():
    with pytest.raises(ValueError, match=r"TrivialAugmentWide is a MindSpore random op.*2 augmented views would be "
                                         r"identical"):
        _batches(_ops("trivialaugwide", separate=True), separate=True)
    images, _ = _batches(_ops("trivialaugwide", separate=True), separate=True, aug_splits=2)[0]
    assert images.shape == (4, 3, SIZE, SIZE)


def test_jsd_loss_against_a_hand_computed_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 3)).astype(np.float32)
    labels = np.array([0, 2, 0, 2, 0, 2], np.int32)
    loss = create_loss("jsd", label_smoothing=0.1, num_splits=3)
    got = float(loss(Tensor(logits), Tensor(labels)).asnumpy())

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    probs = softmax(logits.astype(np.float64)).reshape(3, 2, 3)
    target = np.full((2, 3), 0.1 / 3) + 0.9 * np.eye(3)[[0, 2]]
    cross_entropy = -(target * np.log(probs[0])).sum(axis=1).mean()
    mixture = np.clip(probs.mean(axis=0), 1e-7, 1.0)
    kl = sum((p * (np.log(p) - np.log(mixture))).sum() / 2 for p in probs)
    assert got == pytest.approx(cross_entropy + 12.0 * kl / 3, rel=1e-5)


def test_jsd_loss_is_mindcvs_with_the_split_it_was_written_for(monkeypatch):
    """MindCV 0.3.0's JSDCrossEntropy calls ops.split(logits, 0, 3), MindSpore 1.x's (x, axis, output_num); on
    MindSpore 2.x that reads as axis 3 and raises. Given the 1.x meaning, its value is ours."""
    jsd = pytest.importorskip("mindcv.loss.jsd")
    from mindspore import ops
    shim = types.SimpleNamespace(**{name: getattr(ops, name) for name in dir(ops) if not name.startswith("_")})
    shim.split = lambda x, axis, parts: ops.split(x, x.shape[axis] // parts, axis)
    monkeypatch.setattr(jsd, "ops", shim)
    rng = np.random.default_rng(1)
    logits = Tensor(rng.normal(scale=3.0, size=(6, 5)).astype(np.float32))
    labels = Tensor(np.array([1, 4] * 3, np.int32))
    theirs = jsd.JSDCrossEntropy(smoothing=0.1)
    theirs.set_train(True)
    ours = create_loss("jsd", label_smoothing=0.1)
    assert float(ours(logits, labels).asnumpy()) == pytest.approx(float(theirs(logits, labels).asnumpy()), rel=1e-5)


@pytest.mark.parametrize("argv, named", [
    (["--aug_splits", "3"], r"aug_splits 3 .*auto_augment"),
    (["--aug_splits", "3", "--auto_augment", "autoaug"], r"aug_splits 3 .*auto_augment 'autoaug'.*identical"),
    (["--aug_splits", "1", "--auto_augment", "augmix"], r"aug_splits 1 .*0 .* 2 or more"),
    (["--loss", "jsd"], r"loss jsd .*aug_splits"),
])
def test_recipe_contradictions_name_both_keys(argv, named):
    with pytest.raises(ConfigError, match=named):
        parse_args(["--dataset", "synthetic"] + argv)


def test_recipe_with_splits_and_augmix_is_accepted():
    cfg = parse_args(["--dataset", "synthetic", "--aug_splits", "3", "--auto_augment", "augmix", "--loss", "jsd"])
    assert (cfg.aug_splits, cfg.loss) == (3, "jsd")
    assert parse_args(["--aug_splits", "2", "--auto_augment", "autoaug"]).aug_splits == 2  # one augmented view
