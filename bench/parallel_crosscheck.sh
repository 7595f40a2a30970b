#!/usr/bin/env bash
# All ten traced-vs-planned communication cases of tests/distributed/test_recipes.py
# (Llama-2-7B and Llama-3-8B; TP 2/4/8 and FSDP 8/64); the default suite runs two of them.
# About 40–50 s per case on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOPWISE_CROSSCHECK=all exec "${PYTHON:-python}" -m pytest -q -p no:cacheprovider \
    tests/distributed/test_recipes.py -k planner_bytes_equal_traced "$@"
