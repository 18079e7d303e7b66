"""Top-k predictions with class names for an image file or every image in a folder.

    python infer.py -c configs/resnetv2/resnetv2_cpu_quick.yaml --ckpt_path ckpt/model_best.ckpt --input photo.jpg
    python infer.py -c recipe.yaml --ckpt_path model.ckpt --input images/ --top_k 3 --json predictions.json
"""
from mindcv_resnetv2.deploy.cli import main_infer

if __name__ == "__main__":
    main_infer()
