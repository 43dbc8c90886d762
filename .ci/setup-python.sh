#!/usr/bin/env bash
# Creates the project venv (.venv) with the Python packages winlake's checks and notebooks use.
# Wheels come from pip's own cache (~/.cache/pip), so a later run on the same machine is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# The repository's package.json says "type": "module"; without a nearer package.json, Node would
# load JupyterLab's own .js files inside .venv (node-version-check.js, ...) as ES modules and fail.
[ -f .venv/package.json ] || echo '{ "type": "commonjs" }' > .venv/package.json
stamp=.venv/.requirements.sha
want=$(cat kernel-lib/python/requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  for req in kernel-lib/python/requirements*.txt; do
    .venv/bin/pip install --disable-pip-version-check -q -r "$req"
  done
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import deltalake, pyarrow; print('python venv ready: deltalake', deltalake.__version__, 'pyarrow', pyarrow.__version__)"
