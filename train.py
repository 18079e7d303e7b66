"""Train a ResNetV2 from a YAML recipe.

    python train.py -c configs/resnetv2/resnetv2_50_ascend.yaml --data_dir /imagenet [--key value ...]
    msrun --worker_num 8 --local_worker_num 8 python train.py -c ... --distribute True
"""
from mindcv_resnetv2.engine.cli import main_train

if __name__ == "__main__":
    main_train()
