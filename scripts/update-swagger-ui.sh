#!/usr/bin/env bash
# Refreshes the Swagger UI assets embedded in the binary (pkg/apidocs/swaggerui) from the
# npm package pinned, with its integrity hash, in web/swagger-ui/package-lock.json.
# To move to a new version: change the version in web/swagger-ui/package.json, run
# `npm install --package-lock-only --ignore-scripts` there, then this script, then
# `go test ./pkg/apidocs` (it checks the embedded files against SHA256SUMS).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/web/swagger-ui/package.json" "$root/web/swagger-ui/package-lock.json" "$work/"
# --ignore-scripts: the package's dependency @scarf/scarf would report the install.
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
src="$work/node_modules/swagger-ui-dist"
dst="$root/pkg/apidocs/swaggerui"
rm -rf "$dst"
mkdir -p "$dst"
files=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui-standalone-preset.js
  swagger-ui-standalone-preset.js.LICENSE.txt swagger-ui.css favicon-16x16.png favicon-32x32.png
  LICENSE NOTICE)
for f in "${files[@]}"; do
  cp "$src/$f" "$dst/$f"
done
# The files are copied byte for byte (a browser asks for the .map files, which are not
# shipped, only when its developer tools are open).
node -p "require('$src/package.json').version" >"$dst/VERSION"
(cd "$dst" && sha256sum "${files[@]}" VERSION >SHA256SUMS)
echo "swagger-ui-dist $(cat "$dst/VERSION") -> pkg/apidocs/swaggerui"
