#!/usr/bin/env bash
# Prints cargo's target directory for this workspace: <repo>/target unless CARGO_TARGET_DIR
# (or a .cargo/config.toml build.target-dir) puts it elsewhere — many developers set one.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --locked --no-deps --format-version 1 \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
