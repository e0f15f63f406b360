"""The DA suite with every epoch's target logits kept: ``da_suite.py``'s runs, plus ``target_logits.npz``
in each run directory (the logits the label-free validators score each epoch, epoch 0 the start).

Used to study selection rules offline (which epoch a rule would keep, read against the run's
``oracle_test_accuracy`` history) without re-running training. Same arguments as ``da_suite.py``.

    python benchmarks/da_trace.py --shifts digits→mnist-inverted --strategies source-only,dann --seeds 0 \
        --out benchmarks/runs/trace
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

import graft
from graft.engine.evaluate import predict_logits
from graft.strategies import adaptation

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
suite = importlib.import_module("da_suite")

_logits: list[np.ndarray] = []
_call = adaptation.LabelFreeValidation.__call__


def _traced(self: Any, module: Any) -> dict[str, float]:
    device = next(module.parameters()).device
    _logits.append(predict_logits(module, self.target, self.batch, device)[0].numpy())
    return _call(self, module)


def _fit(*args: Any, out: Any = None, **kwargs: Any) -> Any:
    _logits.clear()
    result = graft.fit(*args, out=out, **kwargs)
    if _logits and out is not None:
        np.savez_compressed(Path(out) / "target_logits.npz", logits=np.stack(_logits))
    return result


adaptation.LabelFreeValidation.__call__ = _traced  # type: ignore[method-assign]
suite.graft = type("_Graft", (), {"fit": staticmethod(_fit)})

if __name__ == "__main__":
    suite.main()
