#!/usr/bin/env bash
# Render an autoharness HTML report in headless Chromium and save a PNG screenshot, to look at the page
# the way a person would (layout, plots, tables). Needs Debian's `chromium` (apt-get install -y chromium).
#
#   scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT]" >&2
    exit 2
fi
report=$(realpath "$1")
out=$(realpath -m "${2:-${report%.html}.png}")
size=${3:-1280x2000}
[[ -f "$report" ]] || { echo "$0: no such report: $report" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$browser" ]] || { echo "$0: chromium not found (apt-get install -y chromium)" >&2; exit 2; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size="${size/x/,}" \
    --screenshot="$out" "file://$report" >/dev/null 2>&1
[[ -s "$out" ]] || { echo "$0: chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
