#!/usr/bin/env bash
# Smoke test of the built wheel under another Python (CI runs it with pyenv's 3.13 after the test suite):
# build the wheel, install it with the locked dependency versions into a fresh venv, then a replayed learn,
# a sandboxed rollout and an eval, checking their results. No LLM is called (bundled transcripts).
#   bash scripts/smoke_wheel.sh [MINOR]        e.g. 3.13 (default), found through pyenv
set -euo pipefail
cd "$(dirname "$0")/.."
minor="${1:-3.13}"
prefix="$(pyenv prefix "$minor" 2>/dev/null)" || { echo "smoke: pyenv has no Python $minor" >&2; exit 1; }
python_bin="$prefix/bin/python$minor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python -m uv build --wheel --quiet --out-dir "$tmp/dist"
python -m uv export --frozen --no-dev --no-emit-project --no-hashes --quiet >"$tmp/requirements.txt"
python -m uv venv --quiet --python "$python_bin" "$tmp/venv"
python -m uv pip install --quiet --python "$tmp/venv/bin/python" -r "$tmp/requirements.txt" "$tmp"/dist/*.whl

cd "$tmp"  # the installed wheel, not the checkout's src/, is what runs
export PATH="$tmp/venv/bin:$PATH"
unset OPENAI_API_KEY
check() { python -c "import json, sys; d = json.load(sys.stdin); assert $1, d" || { echo "smoke: $2" >&2; exit 1; }; }

python -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$minor'.split('.'))), sys.version"
autoharness learn TowerOfHanoi-v0 --mode policy --out hanoi --verify-positions 40 2>/dev/null | grep -q "legal rate 1.000" \
  || { echo "smoke: replayed learn did not reach legal rate 1.000" >&2; exit 1; }
check 'd["legal_rate"] == 1.0 and d["verification"]["positions"] > 0' "learn summary (with verification)" <hanoi/summary.json
autoharness rollout TowerOfHanoi-v0 --mode policy --harness hanoi --episodes 2 --json \
  | check 'd["legal_rate"] == 1.0' "rollout of the learned policy"
autoharness eval TowerOfHanoi-v0 --agent policy --harness hanoi --matches 2 --out eval --json 2>/dev/null \
  | check 'd["legal_rate"] == 1.0 and d["mean_reward"] == 1.0' "eval of the learned policy"
echo "smoke: wheel on Python $(python -c 'import platform; print(platform.python_version())'): learn, rollout, eval OK"
