"""`python -m mindcv_resnetv2.models`: the model table (see summary.main)."""
from .summary import main

main()
