"""Self-trained segmentation network (``method=selftrain``): a light U-Net trained on the
agreement of label-free pipelines, then on its own confident predictions."""
