"""Load a Lambda handler from its asset folder, as the Lambda runtime would (folder on sys.path, `handler` module).

Handlers in the repository also see lambdas/shared/, which the synthesized assets carry as copies.

Each folder is imported in isolation: its modules are loaded under the folder's own names and then removed from
`sys.modules`, so two handlers with a sibling module of the same name never see each other's code.
"""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path
from types import ModuleType

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"
SHARED = LAMBDAS / "shared"
# sys.path and sys.modules are process-wide: concurrent loads (the twin runs executions in threads) take turns.
_LOADING = threading.Lock()


def load_handler_module(folder: str | Path, module: str = "handler") -> ModuleType:
    root = Path(folder) if Path(folder).is_absolute() else LAMBDAS / folder
    if not (root / f"{module}.py").exists() and not (SHARED / f"{module}.py").exists():
        raise FileNotFoundError(f"{root}: no {module}.py")
    # The modules every handler's asset carries (lambdas/shared/); an asset folder has its own copies first.
    local = {p.stem for p in root.glob("*.py")} | {p.stem for p in SHARED.glob("*.py")}
    with _LOADING:
        before = set(sys.modules)
        sys.path[:0] = [str(root), str(SHARED)]
        try:
            for name in local & before:  # a sibling of another handler with the same name
                del sys.modules[name]
            return importlib.import_module(module)
        finally:
            sys.path.remove(str(root))
            sys.path.remove(str(SHARED))
            for name in local:
                sys.modules.pop(name, None)
