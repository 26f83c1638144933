"""Model architectures by name, checkpoints that carry their own config, and cost counting."""
from .registry import (ARCHITECTURES, CheckpointError, build_model, count_macs_per_megapixel, count_params,
                       load_checkpoint, save_checkpoint)

__all__ = ["ARCHITECTURES", "CheckpointError", "build_model", "count_macs_per_megapixel", "count_params",
           "load_checkpoint", "save_checkpoint"]
