#!/usr/bin/env bash
# The long fuzz run: the property tests of test/fuzz with FUZZ_RUNS times as many cases as npm test
# runs (default 20×: ~6 000 configs, ~5 000 data files, 600 corrupted run directories, 80 CLI calls).
# Usage: bench/fuzz.sh [multiplier]
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_RUNS="${1:-20}" npx vitest run test/fuzz --testTimeout=3600000 --hookTimeout=600000
