#!/usr/bin/env bash
# The peer benchmark (issue 7): flopwise against thop, ptflops, fvcore, FlopCounterMode, the
# DeepSpeed profiler, calflops, torchinfo and torchprofile. Builds its own environment (the peers
# are not dependencies of flopwise), then measures and rewrites its section of
# docs/benchmarks.md.
#
#   bash bench/peers/run.sh                       # everything (resumes from bench/_out/peers/)
#   bash bench/peers/run.sh --fresh               # measure again from scratch
#   bash bench/peers/run.sh --tools flopwise,thop --cases resnet18,gpt2
set -euo pipefail
cd "$(dirname "$0")/../.."

ENV=bench/_envs/peers
OUT=bench/_out/peers
mkdir -p "$OUT/install"
[ -x "$ENV/bin/python" ] || python3 -m venv "$ENV"
PIP=("$ENV/bin/pip" install -q -c ci/constraints.txt)

"${PIP[@]}" torch torchvision
"${PIP[@]}" -e .
# One requirement at a time: a peer that cannot be installed is recorded (its pip output goes to
# $OUT/install/NAME.err, which the tables quote) and the others still run.
grep -v '^#' bench/peers/requirements.txt | while read -r requirement; do
    [ -n "$requirement" ] || continue
    name=${requirement%%==*}
    if DS_BUILD_OPS=0 "${PIP[@]}" "$requirement" > "$OUT/install/$name.log" 2>&1; then
        rm -f "$OUT/install/$name.err"
    else
        mv "$OUT/install/$name.log" "$OUT/install/$name.err"
        echo "could not install $requirement (see $OUT/install/$name.err)" >&2
    fi
done

exec "$ENV/bin/python" bench/peers/run.py "$@"
