"""Top-1/top-5/loss and per-class accuracy of a checkpoint over a whole split (and its confusion matrix files).

    python validate.py -c configs/resnetv2/resnetv2_50_ascend.yaml --data_dir /imagenet --ckpt_path resnetv2_50.ckpt
"""
from mindcv_resnetv2.engine.cli import main_validate

if __name__ == "__main__":
    main_validate()
