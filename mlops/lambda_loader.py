"""Load a Lambda handler from its asset folder, as the Lambda runtime would (folder on sys.path, `handler` module).

Handlers in the repository also see the shared modules (lambdas/shared/ and the step-library modules of
`lambdas.shared_files`), which the synthesized assets carry as copies.

Each folder is imported in isolation: its modules are loaded under the folder's own names and then removed from
`sys.modules`, so two handlers with a sibling module of the same name never see each other's code.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

from lambdas import LAMBDAS, SHARED, shared_files

# sys.path and sys.modules are process-wide: concurrent loads (the twin runs executions in threads) take turns.
_LOADING = threading.Lock()


def load_handler_module(folder: str | Path, module: str = "handler") -> ModuleType:
    root = Path(folder) if Path(folder).is_absolute() else LAMBDAS / folder
    if not (root / f"{module}.py").exists() and not (SHARED / f"{module}.py").exists():
        raise FileNotFoundError(f"{root}: no {module}.py")
    # The modules every handler's asset carries (shared_files); an asset folder has its own copies first.
    shared = {Path(name).stem: path for name, path in shared_files().items()}
    own = {p.stem for p in root.glob("*.py")}
    local = own | set(shared)
    with _LOADING:
        before = set(sys.modules)
        sys.path[:0] = [str(root), str(SHARED)]
        try:
            for name in local & before:  # a sibling of another handler with the same name
                del sys.modules[name]
            for name, path in shared.items():  # those outside lambdas/shared/, unless the folder has its own copy
                if path.parent != SHARED and name not in own:
                    sys.modules[name] = _module_from(name, path)
            return importlib.import_module(module)
        finally:
            sys.path.remove(str(root))
            sys.path.remove(str(SHARED))
            for name in local:
                sys.modules.pop(name, None)


def _module_from(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded
