#!/usr/bin/env bash
# make demo: the rotation story end to end on a throwaway local server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD/demo"
PQTLS_BUILD=$BUILD exec /usr/bin/python3 demo/demo.py
