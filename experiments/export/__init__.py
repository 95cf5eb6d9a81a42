"""The export (the submission): ``python -m experiments.export IMAGES_DIR OUT_DIR [key=value ...]``.

* ``cli``: the command line and which method (``method=``, or the ablation's choice);
* ``runner``: the folder runner (resume, fit policy, auto/local/processes/dask executors, prefetch);
* ``records``: what is written per image (mask validation, blob statistics, the record)
  and the tables and zip assembled from the records.
"""
from .records import BLOB_FIELDS, IMAGE_FIELDS, STAGES, blob_rows, blob_stats, is_done, mask_path, validate_mask  # noqa: F401
from .runner import ExportSummary, export_folder, export_one  # noqa: F401
from .cli import main  # noqa: F401
