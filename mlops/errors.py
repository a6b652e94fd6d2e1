"""User-facing errors: the CLI turns these into one line on stderr and an exit code, never a traceback."""


class UserError(Exception):
    """Bad input or usage (exit 2). The message names the file, column or field at fault."""


class StepFailed(Exception):
    """A pipeline step failed for a reason other than its input, e.g. a training worker crashed (exit 1).

    The message names the step and where its own log is.
    """
