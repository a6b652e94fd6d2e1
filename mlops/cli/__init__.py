"""The `mlops` console command: `main` is the entry, one thin adapter module per command group.

Command-group modules do not import each other; what two of them share lives in `mlops.user_input`.
"""
