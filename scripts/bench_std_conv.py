"""The bench's figures for resnetv2_50x1_bit and for the same net with plain convolutions: what weight
standardisation costs (README, "Cost of weight standardisation").

    python scripts/bench_std_conv.py bit --image_size 64 --batch_size 16
    python scripts/bench_std_conv.py plain --image_size 64 --batch_size 16

Run the two alternately, a few times, on an otherwise idle machine. Other arguments go to the bench.
"""
import sys

from mindcv_resnetv2.bench.cli import main
from mindcv_resnetv2.models import register_model, resnetv2

PLAIN = "resnetv2_50x1_bit_plain_convs"


@register_model
def resnetv2_50x1_bit_plain_convs(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
    """resnetv2_50x1_bit with plain convolutions instead of weight-standardised ones (for this measurement only)."""
    depth, preset = 50, resnetv2.BIT_LAYOUT  # resnetv2_50x1_bit's (width factor 1)
    return resnetv2._build("resnetv2_50x1_bit", depth, dict(preset, std_conv=False), pretrained, num_classes,
                           in_channels, **kwargs)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("bit", "plain"):
        sys.exit(__doc__)
    main(["--model", PLAIN if sys.argv[1] == "plain" else "resnetv2_50x1_bit", *sys.argv[2:]])
