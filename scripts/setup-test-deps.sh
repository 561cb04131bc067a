#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: the wasm target and third-party MCP
# servers from npm (pinned in tests/node/package-lock.json). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
command -v node >/dev/null || { echo "node (>= 20) is required for the npm test servers" >&2; exit 1; }
if [ ! -d tests/node/node_modules/@modelcontextprotocol/server-everything ] || [ ! -d tests/node/node_modules/oidc-provider ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi
# The AssemblyScript compiler for the example hook in another language than Rust
# (examples/hooks/sql-guard-as, built by scripts/build-hooks.sh).
hooks_as=examples/hooks/sql-guard-as
if [ ! -x $hooks_as/node_modules/.bin/asc ] || [ $hooks_as/package-lock.json -nt $hooks_as/node_modules ]; then
  (cd $hooks_as && npm ci --no-audit --no-fund --loglevel=error)
fi
# The official Python SDK, for the client-compatibility tests (next to Envoy in .tools/).
MCP_PY_VERSION=2.3.0
if [ -x .tools/venv/bin/python ]; then
  .tools/venv/bin/python -c "import mcp, importlib.metadata as m; assert m.version('mcp') == '$MCP_PY_VERSION'" 2>/dev/null \
    || .tools/venv/bin/python -m pip install --quiet --disable-pip-version-check "mcp==$MCP_PY_VERSION"
else
  PYTHONPATH=.tools/pylib python3 -c "import mcp" 2>/dev/null \
    || python3 -m pip install --quiet --target .tools/pylib "mcp==$MCP_PY_VERSION"
fi
# The official OpenAI Python SDK, the client of the LLM route tests (tests/llm.rs).
OPENAI_PY_VERSION=3.51.0
if [ -x .tools/venv/bin/python ]; then
  .tools/venv/bin/python -c "import openai, importlib.metadata as m; assert m.version('openai') == '$OPENAI_PY_VERSION'" 2>/dev/null \
    || .tools/venv/bin/python -m pip install --quiet --disable-pip-version-check "openai==$OPENAI_PY_VERSION"
else
  PYTHONPATH=.tools/pylib python3 -c "import openai" 2>/dev/null \
    || python3 -m pip install --quiet --target .tools/pylib "openai==$OPENAI_PY_VERSION"
fi
# The OpenAI Agents SDK, a client of the LLM tool loop's tests (tests/llm_approval.rs),
# beside the OpenAI SDK (it works with openai 3.x and mcp 2.x; pinned with them so pip
# keeps those versions).
AGENTS_PY_VERSION=0.25.0
if [ -x .tools/venv/bin/python ]; then
  .tools/venv/bin/python -c "import agents, importlib.metadata as m; assert m.version('openai-agents') == '$AGENTS_PY_VERSION'" 2>/dev/null \
    || .tools/venv/bin/python -m pip install --quiet --disable-pip-version-check \
      "openai-agents==$AGENTS_PY_VERSION" "openai==$OPENAI_PY_VERSION" "mcp==$MCP_PY_VERSION"
else
  PYTHONPATH=.tools/pylib python3 -c "import agents" 2>/dev/null \
    || python3 -m pip install --quiet --target .tools/pylib \
      "openai-agents==$AGENTS_PY_VERSION" "openai==$OPENAI_PY_VERSION" "mcp==$MCP_PY_VERSION"
fi
# Presidio (analyzer + anonymizer, PyPI) for tests/guardrails_sidecar.rs, in a venv of
# its own (spaCy is large; the test gives it a blank English pipeline, no model download).
PRESIDIO_VERSION=2.2.366
if ! .tools/presidio-venv/bin/python -c "import importlib.metadata as m; assert m.version('presidio-analyzer') == '$PRESIDIO_VERSION' and m.version('presidio-anonymizer') == '$PRESIDIO_VERSION'" 2>/dev/null; then
  python3 -m venv .tools/presidio-venv
  .tools/presidio-venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "presidio-analyzer==$PRESIDIO_VERSION" "presidio-anonymizer==$PRESIDIO_VERSION"
fi
# PostgreSQL for the store's tests (a no-op where it already runs).
scripts/setup-postgres.sh
