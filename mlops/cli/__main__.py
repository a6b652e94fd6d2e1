"""`python -m mlops.cli ...`: the same as the `mlops` console command."""

from mlops.cli.main import main

raise SystemExit(main())
