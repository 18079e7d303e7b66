"""The bench's figures for resnetv2_50x1_bit and for the same net with plain convolutions: what weight
standardisation costs (measured figures: docs/measurements.md).

    python -m mindcv_resnetv2.bench.std_conv bit --image_size 64 --batch_size 16
    python -m mindcv_resnetv2.bench.std_conv plain --image_size 64 --batch_size 16

Run the two alternately, a few times, on an otherwise idle machine. Other arguments go to the bench.
"""
import sys

from ..models import register_model, resnetv2
from .cli import main as bench_main

PLAIN = "resnetv2_50x1_bit_plain_convs"


def resnetv2_50x1_bit_plain_convs(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """resnetv2_50x1_bit with plain convolutions instead of weight-standardised ones (for this measurement only)."""
    depth, preset = 50, resnetv2.BIT_LAYOUT  # resnetv2_50x1_bit's (width factor 1)
    return resnetv2._build("resnetv2_50x1_bit", depth, dict(preset, std_conv=False), pretrained, num_classes,
                           in_channels, **kwargs)


def main(argv=None):
    """Run the bench on `bit` or `plain` (registered only here, so importing this module leaves the registry be)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in ("bit", "plain"):
        sys.exit(__doc__)
    if argv[0] == "plain":
        register_model(resnetv2_50x1_bit_plain_convs)
    return bench_main(["--model", PLAIN if argv[0] == "plain" else "resnetv2_50x1_bit", *argv[1:]])


if __name__ == "__main__":
    main()
