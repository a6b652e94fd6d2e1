"""Lambda handlers, one subpackage each (`lambdas.<name>.handler.lambda_handler`), and `lambdas.shared`.

Each function's asset carries this package with its own subpackage, `lambdas/shared/` and `contracts/`
(stacks/constructs/python_handler.py); the drift core comes as a layer.
"""
