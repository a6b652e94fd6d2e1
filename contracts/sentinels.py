"""The value that stands for "nothing" across a boundary, where AWS refuses an empty string (an SSM String
parameter, a CustomerMetadataProperties value, a pipeline parameter, a stack output)."""

# - the approved-package parameter before the first approval, the serving stack's DeployedModelPackageArn and the
#   Triton live model until then (written by the stacks, read by the functions, the smoke test and the twin);
# - the pipeline's ChampionModelDataUri when nothing serves yet (retrain_start_pipeline -> evaluate step);
# - a model package metadata value that is unknown or empty (contracts/metadata_codec.py).
NONE = "none"
