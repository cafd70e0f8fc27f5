#!/usr/bin/env bash
# Audits the Electron layer with Doyensec's electronegativity and fails on any HIGH or MEDIUM finding
# that scripts/electronegativity-allow.txt does not explain. Runs offline (it warns that it cannot
# fetch Electron's release list; we pass the version ourselves).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"
cp -r main/electron preload "$work/app/"
cp renderer/index.html "$work/app/" # so its CSP meta tag is seen
version=$(node -p "require('./node_modules/electron/package.json').version")
npx electronegativity -i "$work/app" -e "$version" -r -o "$work/report.csv" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }

allowed=$(grep -oE '^[A-Z_]+' scripts/electronegativity-allow.txt 2>/dev/null || true)
fail=0
while IFS= read -r line; do
  check=${line%%,*}
  severity=$(cut -d, -f2 <<<"$line" | tr -d '"')
  [[ "$severity" == HIGH || "$severity" == MEDIUM ]] || continue
  if grep -qx "$check" <<<"$allowed"; then echo "allowed: $line"; continue; fi
  echo "FINDING: $line"
  fail=1
done < <(tail -n +2 "$work/report.csv")
[ $fail = 0 ] && echo "electronegativity: no unexplained HIGH/MEDIUM findings in main/electron and preload (Electron $version)"
exit $fail
