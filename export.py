"""Export a checkpoint for deployment and check the exported file gives the checkpoint's outputs.

    python export.py -c recipe.yaml --ckpt_path model.ckpt                      # MindIR beside the checkpoint
    python export.py -c recipe.yaml --ckpt_path model.ckpt --file_format ONNX --output deploy/model.onnx
"""
from mindcv_resnetv2.deploy.cli import main_export

if __name__ == "__main__":
    main_export()
