"""Options of the MindCV-style scripts beside this file; they import it as `from config import parse_args`, as
MindCV's train.py and validate.py import MindCV's config.py, so they only run with their folder on sys.path."""
import argparse


def parse_args():
    parser = argparse.ArgumentParser(description="MindCV-style script run by tests/test_mindcv_launcher.py")
    parser.add_argument("--mode", type=int, default=0, help="0 graph, 1 PyNative")
    parser.add_argument("--data_dir", required=True, help="ImageFolder root with train/ and val/")
    parser.add_argument("--model", required=True)
    parser.add_argument("--image_resize", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--epoch_size", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--ckpt_save_dir", default="./ckpt")
    parser.add_argument("--ckpt_path", default="")
    return parser.parse_args()
