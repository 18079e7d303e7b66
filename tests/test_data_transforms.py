"""Transforms: every option changes the output as documented; auto-augment strings parse and every field acts."""
import math

import numpy as np
import pytest

from mindcv_resnetv2.data import create_dataset, create_loader, create_transforms, parse_auto_augment
from data_fixtures import collect, make_image_folder, write_mnist


def run(name="synthetic", root=None, is_training=True, seed=0, image_size=(40, 48), **options):
    """Images of one batch of 4 through create_transforms(**options)."""
    ds = create_dataset(name, root, "train", shuffle=False, image_size=image_size, num_classes=2,
                        synthetic_length=4, seed=0)
    options.setdefault("image_resize", 16)
    transform = create_transforms(dataset_name=name, is_training=is_training, **options)
    loader = create_loader(ds, batch_size=4, is_training=is_training, transform=transform, num_classes=2,
                           seed=seed)
    return collect(loader)[0][0]


PLAIN = dict(hflip=0.0, color_jitter=0.0)


def test_eval_resizes_short_side_to_floor_size_over_crop_pct_then_center_crops(tmp_path):
    import mindspore.dataset.vision as vision
    raw = next(create_dataset("synthetic", split="train", shuffle=False, image_size=(40, 48), num_classes=2,
                              synthetic_length=4).create_tuple_iterator(output_numpy=True))[0]
    resized = vision.Resize(math.floor(16 / 0.7))(raw)  # 22 x 26
    top, left = (resized.shape[0] - 16) // 2, (resized.shape[1] - 16) // 2
    expected = resized[top:top + 16, left:left + 16].transpose(2, 0, 1).astype(np.float32)
    images = run(is_training=False, image_resize=16, crop_pct=0.7, mean=[0, 0, 0], std=[1, 1, 1])
    np.testing.assert_allclose(images[0], expected, atol=1e-4)
    root = make_image_folder(tmp_path, per_class=2, size=(60, 40))
    assert run("imagenet", root, is_training=False, image_resize=16).shape == (4, 3, 16, 16)


def test_train_encoded_uses_fused_decode_crop(tmp_path):
    ops = create_transforms("imagenet", is_training=True)
    assert type(ops[0]).__name__ == "RandomCropDecodeResize"
    root = make_image_folder(tmp_path, per_class=2)
    assert run("imagenet", root, image_resize=20).shape == (4, 3, 20, 20)


def test_normalize_uses_mean_std_on_255_scale():
    images = run(is_training=False, image_resize=40, crop_pct=1.0, mean=[0, 0, 0], std=[255, 255, 255])
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9
    shifted = run(is_training=False, image_resize=40, crop_pct=1.0, mean=[255, 255, 255], std=[255, 255, 255])
    np.testing.assert_allclose(shifted, images - 1.0, atol=1e-6)
    single = run(is_training=False, image_resize=40, crop_pct=1.0, mean=[0], std=[255])  # one value per channel
    np.testing.assert_array_equal(single, images)


@pytest.mark.parametrize("option,value", [("hflip", 1.0), ("vflip", 1.0)])
def test_flips(option, value):
    base = run(is_training=False, image_resize=40, crop_pct=1.0, image_size=(40, 40))
    flipped = run(small_image_crop=True, image_resize=40, crop_padding=0, image_size=(40, 40),
                  **{**PLAIN, option: value})
    axis = 3 if option == "hflip" else 2
    np.testing.assert_allclose(flipped, np.flip(base, axis), atol=1e-5)


def test_small_image_crop_pads_and_crops():
    base = run(is_training=False, image_resize=40, crop_pct=1.0, image_size=(40, 40))
    padded = run(small_image_crop=True, image_resize=40, crop_padding=4, image_size=(40, 40), **PLAIN)
    assert padded.shape == base.shape
    assert not np.allclose(padded, base)  # shifted by up to 4 pixels, borders filled
    assert "RandomCrop" in [type(op).__name__ for op in create_transforms("cifar10", is_training=True)]


@pytest.mark.parametrize("option,values", [
    ("scale", [(0.08, 0.1), (0.9, 1.0)]),
    ("ratio", [(0.5, 0.5), (2.0, 2.0)]),
    ("color_jitter", [0.0, 0.4]),
    ("color_jitter", [(0.4, 0.0, 0.0), (0.0, 0.4, 0.0, 0.1)]),
    ("interpolation", ["bilinear", "bicubic"]),
    ("interpolation", ["nearest", "area"]),
    ("re_prob", [0.0, 1.0]),
    ("re_value", [0, "random"]),
])
def test_option_changes_output(option, values):
    outputs = [run(**{**PLAIN, "re_prob": 1.0 if option == "re_value" else 0.0, option: v}) for v in values]
    assert outputs[0].shape == outputs[1].shape
    assert not np.allclose(outputs[0], outputs[1])


def test_random_erasing_scale_ratio_and_attempts():
    def erased_fraction(**options):
        images = run(image_resize=32, re_prob=1.0, re_value=1000, **PLAIN, **options)
        return (images == 1000).mean()
    assert erased_fraction(re_scale=(0.3, 0.33)) > erased_fraction(re_scale=(0.02, 0.03))
    wide = run(image_resize=32, re_prob=1.0, re_value=1000, re_ratio=(0.3, 0.31), **PLAIN)
    rows, cols = np.nonzero((wide[0, 0] == 1000))
    assert np.ptp(rows) < np.ptp(cols)  # ratio = height/width < 1: a wide box
    assert erased_fraction(re_scale=(0.98, 0.99), re_ratio=(5.0, 5.0), re_max_attempts=3) == 0.0


def test_unknown_interpolation_error():
    with pytest.raises(ValueError, match="'cubic'.*bilinear"):
        create_transforms(interpolation="cubic")


def test_lanczos_resizes_through_pil_in_every_path(tmp_path):
    root = make_image_folder(tmp_path, per_class=2)
    for kwargs in (dict(is_training=False), dict(is_training=True, **PLAIN),
                   dict(is_training=True, small_image_crop=True, crop_padding=2, **PLAIN)):
        lanczos = run("imagenet", root, interpolation="lanczos", **kwargs)
        bilinear = run("imagenet", root, interpolation="bilinear", **kwargs)
        assert lanczos.shape == bilinear.shape == (4, 3, 16, 16), kwargs
        assert not np.allclose(lanczos, bilinear), kwargs
    gray = run("imagenet", root, is_training=False, interpolation="lanczos", in_channels=1)
    assert gray.shape == (4, 1, 16, 16)
    synthetic = run(interpolation="lanczos", **PLAIN)  # decoded arrays take the same path
    assert synthetic.shape == (4, 3, 16, 16)


def test_gray_arrays_train_with_lanczos_and_skip_colour_jitter(tmp_path, caplog):
    write_mnist(str(tmp_path), gz=True)
    ds = create_dataset("mnist", str(tmp_path), "train", shuffle=False, in_channels=1)
    transform = create_transforms("mnist", is_training=True, image_resize=28, interpolation="lanczos",
                                  color_jitter=0.4, mean=[33.0], std=[78.0], in_channels=1)
    images = collect(create_loader(ds, batch_size=4, transform=transform, num_classes=10))[0][0]
    assert images.shape == (4, 1, 28, 28)
    assert "color_jitter=0.4 is skipped" in caplog.text


def test_in_channels_one_for_image_folder(tmp_path):
    root = make_image_folder(tmp_path, per_class=2)
    images = run("imagenet", root, is_training=False, in_channels=1)
    assert images.shape == (4, 1, 16, 16)


def test_parse_auto_augment_fields_and_defaults():
    assert parse_auto_augment("randaug-m9-n2-mstd0.5") == ("randaug", {"m": 9.0, "n": 2, "mstd": 0.5,
                                                                        "mmax": 10.0, "p": 0.5, "inc": 1})
    assert parse_auto_augment("augmix-m3-w3-d-1-a0.5") == ("augmix", {"m": 3, "w": 3, "d": -1, "a": 0.5})
    assert parse_auto_augment("autoaug") == ("autoaug", {})


@pytest.mark.parametrize("spec,message", [
    ("randaug-m9-z3", "'z3'.*accepts"), ("randaug-n2", "needs a magnitude"), ("fancyaug", "first field"),
    ("autoaug-m9", "no fields"), ("randaug-m9-inc0", "only inc1"), ("randaug-m11", "out of range"),
    ("augmix-m3-b1", "'b1'"), ("randaug-m9-mmax12", "out of range"),
])
def test_bad_auto_augment_strings(spec, message):
    with pytest.raises(ValueError, match=message):
        create_transforms(is_training=True, auto_augment=spec)


@pytest.mark.parametrize("base,variant", [
    ("randaug-m9-n2-p1.0", "randaug-m2-n2-p1.0"),
    ("randaug-m9-n1-p1.0", "randaug-m9-n3-p1.0"),
    ("randaug-m5-n2-p1.0", "randaug-m5-n2-p1.0-mstd3"),
    ("randaug-m5-n8-p1.0-mstd10-mmax5", "randaug-m5-n8-p1.0-mstd10-mmax10"),
    ("randaug-m9-n2-p0.0", "randaug-m9-n2-p1.0"),
    ("augmix-m1-w3", "augmix-m9-w3"),
    ("augmix-m3-w1", "augmix-m3-w4"),
    ("augmix-m3-w3-d1", "augmix-m3-w3-d3"),
    ("augmix-m3-w3-a0.1", "augmix-m3-w3-a5"),
])
def test_every_auto_augment_field_takes_effect(base, variant):
    assert not np.allclose(run(auto_augment=base, **PLAIN), run(auto_augment=variant, **PLAIN))


def test_randaug_p0_is_identity_and_inc1_accepted():
    np.testing.assert_array_equal(run(auto_augment="randaug-m9-n2-p0", **PLAIN), run(**PLAIN))
    np.testing.assert_array_equal(run(auto_augment="randaug-m9-n2-inc1", **PLAIN),
                                  run(auto_augment="randaug-m9-n2", **PLAIN))


@pytest.mark.parametrize("spec", ["autoaug", "trivialaugwide"])
def test_native_policies_change_images(spec):
    assert not np.allclose(run(auto_augment=spec, **PLAIN), run(**PLAIN))


def test_color_jitter_skipped_with_auto_augment():
    names = [type(op).__name__ for op in create_transforms(is_training=True, auto_augment="autoaug", color_jitter=0.4)]
    assert "RandomColorAdjust" not in names and "AutoAugment" in names
