#!/usr/bin/env bash
# One-shot set-up on a fresh machine of this kind (Debian, root, pyenv with CPython 3.12, PyPI + apt only).
# Idempotent: a second run installs nothing. Installs: bubblewrap (sandbox), uv, then the locked environment
# with the ray extra.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing bubblewrap (sandbox for generated code)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "bootstrap: WARNING: bubblewrap missing and cannot be installed; harness code will run with rlimits only" >&2
  fi
fi

# .python-version pins 3.12 (TextArena 0.7.4 needs 3.12 syntax); pyenv's shim then gives 3.12's pip.
if ! python -m uv --version >/dev/null 2>&1; then
  python -m pip install -q "uv==0.13.9" 2>&1 | grep -v -e '^WARNING: Running pip as' -e 'is ignored' >&2 || true
fi
# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE=1, so without compiled .pyc files every new
# process (suite workers, verification pools, tests) compiled TextArena's imports (nltk, SciPy) from source:
# `import textarena` took 4.2 s of CPU instead of 1.6 s. Compiling once costs ~30 s; later runs skip it.
python -m uv sync --frozen --quiet --extra openspiel --extra ray --compile-bytecode  # Ray too, so its tests run (+191 MB)
