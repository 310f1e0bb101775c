#!/usr/bin/env bash
# Check that ONNX Runtime loads every model `inferd optimize --level basic`
# writes and agrees with the original model's reference outputs, and print
# the node counts of inferd's and ONNX Runtime's optimized graphs (and,
# with --bench, inferd's latency with and without optimization).
#
#   scripts/ort-check-optimized.sh [--bench] [--runs N] [MODELS_DIR]
#
# MODELS_DIR is a refkit export (make_models.py's models/ folder, with
# <name>/<name>_opset<K>.onnx and b<B>_{input,output}_<i>.npy); default
# $INFERD_REFKIT_MODELS, else $REFKIT/models. REFKIT is the refkit folder
# with ort_bench.js and node/node_modules (onnxruntime-node) installed
# (default: ../shared/refkit if it has node_modules, else /work/refkit).
#
# For each model: inferd optimize at basic and extended; ONNX Runtime runs
# the basic output against every reference batch (ort_bench.js --data, its
# default tolerances) and must pass; ONNX Runtime writes its own basic and
# all-level graphs for the node-count comparison. Exit status 1 if any
# check fails. Work files go to $WORK (default /tmp/inferd-ort-check).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bench=0
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
if [ -z "${REFKIT:-}" ]; then
  REFKIT=$repo/../shared/refkit
  [ -d "$REFKIT/node/node_modules" ] || REFKIT=/work/refkit
fi
models=${1:-${INFERD_REFKIT_MODELS:-$REFKIT/models}}
work=${WORK:-/tmp/inferd-ort-check}
mkdir -p "$work"
[ -f "$REFKIT/ort_bench.js" ] || { echo "no ort_bench.js in $REFKIT (set REFKIT)" >&2; exit 2; }
[ -d "$models" ] || { echo "no models folder $models" >&2; exit 2; }

inferd=$work/inferd
(cd "$repo" && go build -o "$inferd" ./cmd/inferd)

nodes() { "$inferd" inspect "$1" | awk '/^nodes:/ {print $2}'; }

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) printf "%.2f\n", a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# latencies MODEL: inferd bench's median on the batch-1 reference inputs
# (so dynamic dimensions have their real sizes), without and with
# optimization, alternating the two $runs times (a shared machine's load
# drifts); prints the median over the runs of each.
latencies() {
  local args=() i=0 name r
  for name in $("$inferd" inspect "$1" | awk '/^inputs:/ {f=1; next} /^outputs:/ {f=0} f {sub(":", "", $1); print $1}'); do
    args+=(-i "$name=$(dirname "$1")/b1_input_$i.npy")
    i=$((i + 1))
  done
  : >"$work/lat_none"
  : >"$work/lat_extended"
  for r in $(seq "$runs"); do
    for lvl in none extended; do
      "$inferd" bench "$1" "${args[@]}" --threads 1 --json --opt-level "$lvl" --warmup 3 --iters 20 |
        sed 's/.*"median_ms":\([0-9.]*\).*/\1/' >>"$work/lat_$lvl"
    done
  done
  echo "$(median <"$work/lat_none") | $(median <"$work/lat_extended")"
}

fail=0
header="| model | nodes | inferd basic | inferd extended | ORT basic | ORT all | ORT loads basic |"
rule="| --- | ---: | ---: | ---: | ---: | ---: | --- |"
if [ $bench = 1 ]; then
  header="$header inferd ms (none) | inferd ms (extended) |"
  rule="$rule ---: | ---: |"
fi
rows=()
for model in "$models"/*/*_opset*.onnx; do
  dir=$(dirname "$model")
  base=$(basename "$model" .onnx)
  b=$work/${base}_basic.onnx
  x=$work/${base}_extended.onnx
  if ! "$inferd" optimize "$model" -o "$b" --level basic >/dev/null ||
     ! "$inferd" optimize "$model" -o "$x" --level extended >/dev/null; then
    echo "FAIL $base: inferd optimize failed" >&2
    fail=1
    continue
  fi
  # ONNX Runtime's own optimized graphs, to compare node counts.
  for lvl in basic all; do
    node "$REFKIT/ort_bench.js" "$model" --opt "$lvl" --optimized-model "$work/${base}_ort_$lvl.onnx" \
      --data "$dir" --warmup 0 --runs 1 >/dev/null 2>&1 || true
  done
  verdict=pass
  for input in "$dir"/b*_input_0.npy; do
    batch=$(basename "$input" | sed 's/^b\([0-9]*\)_.*/\1/')
    if ! out=$(node "$REFKIT/ort_bench.js" "$b" --data "$dir" --batch "$batch" --threads 1 --warmup 0 --runs 1 2>&1); then
      echo "FAIL $base batch $batch: ONNX Runtime on inferd's basic output:" >&2
      echo "$out" | tail -5 >&2
      verdict=FAIL
      fail=1
    fi
  done
  row="| $base | $(nodes "$model") | $(nodes "$b") | $(nodes "$x") | $(nodes "$work/${base}_ort_basic.onnx") | $(nodes "$work/${base}_ort_all.onnx") | $verdict |"
  if [ $bench = 1 ]; then
    row="$row $(latencies "$model") |"
  fi
  echo "$row" >&2
  rows+=("$row")
done
echo "$header"
echo "$rule"
printf '%s\n' "${rows[@]}"
exit $fail
