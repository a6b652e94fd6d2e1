"""The `mlops` command: offline twin, local pipeline run, drift tools."""
