"""Per-channel pixel statistics on the 0-255 scale (as MindCV recipes write mean/std): the transforms' defaults and
the models' default configurations read them from here."""
IMAGENET_MEAN_255 = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD_255 = (0.229 * 255, 0.224 * 255, 0.225 * 255)
CIFAR10_MEAN_255 = (0.4914 * 255, 0.4822 * 255, 0.4465 * 255)
CIFAR10_STD_255 = (0.2470 * 255, 0.2435 * 255, 0.2616 * 255)
