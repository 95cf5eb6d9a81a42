"""thinseg: shared core of the thin-section segmentation toolkit.

The flow (see ``DESIGN.md`` at the top of the repository)::

    image file --load--> RGB float32 (H, W, 3) + light type
               --features--> per-pixel features at working resolution (h, w, C)
               --segmenter.predict--> cluster labels (h, w)
               --instances--> instance ids (H, W) int32, 0 = background, + blob table
               --write--> NAME_mask.npy, blobs.csv rows (atomic)
"""

__version__ = "0.1.0"
