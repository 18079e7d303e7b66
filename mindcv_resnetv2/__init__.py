"""mindcv_resnetv2: the ResNetV2 (pre-activation ResNet) family for MindSpore, in the MindCV style."""
from .utils.backend import check_cpu_convolution_speed

__version__ = "0.1.0"

check_cpu_convolution_speed()
