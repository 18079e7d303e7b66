"""Auto-augment policies selected by the strings MindCV and timm users write.

- ``autoaug``: the ImageNet AutoAugment policy (MindSpore's C++ ``AutoAugment``).
- ``trivialaugwide``: MindSpore's C++ ``TrivialAugmentWide``.
- ``randaug-m9-n2-mstd0.5[-mmax10][-p0.5][-inc1]``: RandAugment. m: magnitude on a 0-10 scale; n: ops per image;
  mstd: std of normal noise added to m for every op (clipped to [0, mmax]); mmax: upper clip (<= 10); p: probability
  each op is applied (default 0.5, as in timm); inc1: the increasing-severity op set (the only one provided).
- ``augmix-m3-w3[-d-1][-a1]``: AugMix. m: severity 1-10 (each op's magnitude is uniform in [0, m]); w: number of
  chains mixed; d: ops per chain (-1: 1 to 3 at random); a: Dirichlet/Beta concentration.

RandAugment and AugMix draw per-op randomness in Python (``keyed.KeyedRandomOp``) and run each chosen op with
MindSpore's deterministic C++ kernels; nesting MindSpore's own random ops would not do, since every MindSpore random
op of a pipeline is seeded with the same global seed and nested copies would make identical choices.
"""
import math
import re

import numpy as np
import mindspore.dataset.vision as vision

from ..errors import InvalidInputError
from .keyed import KeyedRandomOp

FILL = (128, 128, 128)
MAX_LEVEL = 10.0

_FIELD = re.compile(r"^([a-z]+)(-?[0-9.]+)$")
# kind -> {field: (parser, default)}
FIELDS = {
    "randaug": {"m": (float, None), "n": (int, 2), "mstd": (float, 0.0), "mmax": (float, MAX_LEVEL),
                "p": (float, 0.5), "inc": (int, 1)},
    "augmix": {"m": (int, 3), "w": (int, 3), "d": (int, -1), "a": (float, 1.0)},
    "autoaug": {},
    "trivialaugwide": {},
}
# Drawn in Python by keyed ops, so each augmented view of a split batch draws its own (loader.ViewKey); the other
# policies are MindSpore C++ ops, which make the same choices on every copy of an image under one dataset seed.
VIEW_POLICIES = ("randaug", "augmix")


def parse_auto_augment(spec):
    """(kind, {field: value}) of an auto-augment string; unknown kinds and fields raise naming the accepted ones."""
    kind, *tokens = spec.strip().lower().split("-")
    # negative numbers (augmix d-1) split into an empty-looking token: glue "d" and "1" back together
    merged = []
    for token in tokens:
        if merged and merged[-1].isalpha():
            merged[-1] += "-" + token
        else:
            merged.append(token)
    if kind not in FIELDS:
        raise InvalidInputError(f"unknown auto_augment {spec!r}: the first field must be one of {sorted(FIELDS)}")
    fields = {}
    for token in merged:
        match = _FIELD.match(token)
        if not match or match.group(1) not in FIELDS[kind]:
            raise InvalidInputError(f"auto_augment {spec!r}: field {token!r} not understood; {kind} accepts "
                                    f"{sorted(FIELDS[kind]) or 'no fields'} followed by a number (e.g. m9)")
        key, text = match.groups()
        fields[key] = FIELDS[kind][key][0](text)
    values = {key: fields.get(key, default) for key, (_, default) in FIELDS[kind].items()}
    if kind == "randaug" and values["m"] is None:
        raise InvalidInputError(f"auto_augment {spec!r}: randaug needs a magnitude field, e.g. randaug-m9-n2")
    return kind, values


def _shear_degrees(fraction):
    return math.degrees(math.atan(0.3 * fraction))


def _op_table(interpolation):
    """name -> f(strength in [0, 1], sign +1/-1) -> a deterministic MindSpore op (strength 1 = the strongest)."""
    def affine(translate=(0.0, 0.0), shear=(0.0, 0.0)):
        return vision.Affine(degrees=0.0, translate=list(translate), scale=1.0, shear=list(shear),
                             resample=interpolation, fill_value=FILL)

    return {
        "AutoContrast": lambda f, s: vision.AutoContrast(),
        "Equalize": lambda f, s: vision.Equalize(),
        "Invert": lambda f, s: vision.Invert(),
        "Rotate": lambda f, s: vision.Rotate(30.0 * f * s, resample=interpolation, fill_value=FILL),
        "Posterize": lambda f, s: vision.Posterize(8 - int(4 * f)),
        "Solarize": lambda f, s: vision.Solarize(255.0 * (1.0 - f)),
        "Color": lambda f, s: vision.AdjustSaturation(1.0 + 0.9 * f * s),
        "Contrast": lambda f, s: vision.AdjustContrast(1.0 + 0.9 * f * s),
        "Brightness": lambda f, s: vision.AdjustBrightness(1.0 + 0.9 * f * s),
        "Sharpness": lambda f, s: vision.AdjustSharpness(1.0 + 0.9 * f * s),
        "ShearX": lambda f, s: affine(shear=(_shear_degrees(f) * s, 0.0)),
        "ShearY": lambda f, s: affine(shear=(0.0, _shear_degrees(f) * s)),
        "TranslateX": lambda f, s: affine(translate=(0.45 * f * s, 0.0)),
        "TranslateY": lambda f, s: affine(translate=(0.0, 0.45 * f * s)),
    }


RANDAUG_OPS = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color", "Contrast",
               "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY")
# AugMix leaves out the colour ops that overlap with ImageNet-C corruptions, as in the AugMix paper.
AUGMIX_OPS = ("AutoContrast", "Equalize", "Posterize", "Rotate", "Solarize", "ShearX", "ShearY", "TranslateX",
              "TranslateY")


class RandAugment(KeyedRandomOp):
    """RandAugment on an HWC uint8 image with per-op probability and per-op magnitude noise (see module doc)."""

    def __init__(self, m, n, mstd, mmax, p, interpolation):
        if not 0.0 <= mmax <= MAX_LEVEL or not 0.0 <= m <= mmax or n < 0 or mstd < 0 or not 0.0 <= p <= 1.0:
            raise InvalidInputError(f"randaug fields out of range: need 0 <= m={m} <= mmax={mmax} <= {MAX_LEVEL}, "
                                    f"n={n} >= 0, mstd={mstd} >= 0, 0 <= p={p} <= 1")
        self.m, self.n, self.mstd, self.mmax, self.p = m, n, mstd, mmax, p
        self.table = _op_table(interpolation)

    def __call__(self, image):
        rng = self.rng(image)
        for _ in range(self.n):
            if rng.random() >= self.p:
                continue
            name = RANDAUG_OPS[rng.integers(len(RANDAUG_OPS))]
            level = self.m if self.mstd == 0 else float(np.clip(rng.normal(self.m, self.mstd), 0.0, self.mmax))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            image = self.table[name](level / MAX_LEVEL, sign)(image)
        return image


class AugMix(KeyedRandomOp):
    """AugMix on an HWC uint8 image: ``w`` op chains mixed by Dirichlet weights, then blended with the input."""

    def __init__(self, m, w, d, a, interpolation):
        if not 1 <= m <= MAX_LEVEL or w < 1 or (d != -1 and d < 1) or a <= 0:
            raise InvalidInputError(f"augmix fields out of range: need 1 <= m={m} <= 10, w={w} >= 1, "
                                    f"d={d} = -1 or >= 1, a={a} > 0")
        self.m, self.w, self.d, self.a = m, w, d, a
        self.table = _op_table(interpolation)

    def __call__(self, image):
        rng = self.rng(image)
        weights = rng.dirichlet([self.a] * self.w)
        mixed = np.zeros(image.shape, np.float32)
        for weight in weights:
            chain = image
            for _ in range(self.d if self.d > 0 else int(rng.integers(1, 4))):
                name = AUGMIX_OPS[rng.integers(len(AUGMIX_OPS))]
                sign = 1.0 if rng.random() < 0.5 else -1.0
                chain = self.table[name](rng.uniform(0.0, self.m) / MAX_LEVEL, sign)(chain)
            mixed += weight * chain.astype(np.float32)
        blend = rng.beta(self.a, self.a)
        out = (1.0 - blend) * image.astype(np.float32) + blend * mixed
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def auto_augment_ops(spec, interpolation):
    """The op list for an auto-augment string; ``interpolation`` is a MindSpore ``Inter`` for geometric ops."""
    kind, fields = parse_auto_augment(spec)
    if kind == "autoaug":
        return [vision.AutoAugment(vision.AutoAugmentPolicy.IMAGENET, interpolation=interpolation, fill_value=FILL)]
    if kind == "trivialaugwide":
        return [vision.TrivialAugmentWide(interpolation=interpolation, fill_value=FILL)]
    if kind == "randaug":
        if fields.pop("inc") != 1:
            raise InvalidInputError(f"auto_augment {spec!r}: only inc1 (increasing-severity ops) is provided")
        return [RandAugment(interpolation=interpolation, **fields)]
    return [AugMix(interpolation=interpolation, **fields)]
