#!/usr/bin/env bash
# Check that ONNX Runtime loads every model `inferd quantize` writes and
# agrees with inferd on it, and print the table model × mode → size,
# latency (inferd and ONNX Runtime), cosine against float32 (and, for the
# digits classifier, test accuracy).
#
#   scripts/ort-check-quantized.sh [--modes static,dynamic,int4,fp16] [--only m1,m2] [--threads N] [MODELS_DIR]
#
# MODELS_DIR is a refkit export (make_models.py's models/ folder, with
# <name>/<name>_opset17.onnx and b1_input_<i>.npy); default
# $INFERD_REFKIT_MODELS, else $REFKIT/models. REFKIT is the refkit folder
# with ort_bench.js and node/node_modules (onnxruntime-node) installed
# (default: ../shared/refkit if it has node_modules, else /work/refkit).
# The committed models/digits classifier is always checked too.
#
# For each model and mode: inferd quantize (static calibrates on the
# reference input; fp16 keeps float32 inputs and outputs), then inferd and
# ONNX Runtime run the result on the batch-1 reference input and their
# outputs must agree to a relative L2 error ≤ 1e-3 (ORT_TOL), both running
# the graph as written (ONNX Runtime at --opt basic, inferd at --opt-level
# basic). The table also gives the error between the two as deployed
# (inferd's default level, whose QDQ rewrite runs integer kernels, against
# ONNX Runtime with every optimization): each requantizes in integers
# between layers and rounds differently (ORT at basic and at all differ by
# as much on ResNet-50), so that column is informational, not a pass
# criterion.
# Cosine is inferd's output on the quantized model against inferd's on the
# float model. Latency is the median of --runs single-thread runs (inferd
# bench; ort_bench.js at --opt all). Exit status 1 if ONNX Runtime fails to
# load a model or disagrees. Work files go to $WORK (default
# /tmp/inferd-ort-quant).
#
# Expected failures (checked 2026-11-22, BENCHMARKS.md "bert_like dynamic
# against ONNX Runtime"): bert_like dynamic (0.010) and resnet18 static
# (0.011) exceed 1e-3 although both runtimes compute every quantization op
# exactly as the spec says (the other static models part the same way, not
# audited op by op). With each runtime's
# intermediate tensors exposed, all 25 DynamicQuantizeLinear (y_scale =
# (max(0,max x) − min(0,min x))/255, zero point and codes round-half-even
# of the float32 x/y_scale), all 25 MatMulInteger (exact int32) and the
# Cast/Mul-by-scale ops of bert_like match the spec bit for bit on their
# own inputs, in inferd and in ORT; likewise resnet18 static's 48
# QuantizeLinear and 91 DequantizeLinear. They first part at a float op:
# bert's embedding LayerNormalization (rel 1.2e-7; both within a few ulps
# of float64), whose outputs then land on opposite sides of a rounding tie
# in the next DynamicQuantizeLinear (element 40821: ORT's x/scale is
# exactly −23.5 → code 96, inferd's −23.499994 → 97; float64 says 97), and
# the flipped codes multiply down the layers. The graph itself amplifies
# float rounding ~2·10⁴×: raising the 384 embedding-LayerNorm gains by one
# ulp moves ORT's own output by 0.0051/0.0102 (hidden/pooler) and
# inferd's by 0.0047/0.0093 (the float32 model: 3e-7), the size of the
# inferd–ORT gap; on resnet18 static one ulp on the weight scales moves
# ORT by 0.0096 against the 0.0108 between the two. ORT's u8×s8
# MatMulInteger does not saturate on the AVX-512 VNNI machine used (exact
# on inputs chosen to overflow int16 pair sums).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
modes=static,dynamic,int4,fp16
only=
threads=1
runs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --modes) modes=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
if [ -z "${REFKIT:-}" ]; then
  REFKIT=$repo/../shared/refkit
  [ -d "$REFKIT/node/node_modules" ] || REFKIT=/work/refkit
fi
models=${1:-${INFERD_REFKIT_MODELS:-$REFKIT/models}}
work=${WORK:-/tmp/inferd-ort-quant}
tol=${ORT_TOL:-1e-3}
mkdir -p "$work"
[ -f "$REFKIT/ort_bench.js" ] || { echo "no ort_bench.js in $REFKIT (set REFKIT)" >&2; exit 2; }
py=/usr/bin/python3
$py -c 'import numpy' || { echo "needs numpy for $py (apt-get install python3-numpy)" >&2; exit 2; }

inferd=$work/inferd
(cd "$repo" && go build -o "$inferd" ./cmd/inferd)

# input names of a model, in order
inputs() { "$inferd" inspect "$1" | awk '/^inputs:/ {f=1; next} /^outputs:/ {f=0} f {sub(":", "", $1); print $1}'; }

# relative L2 error and cosine between the .npy files of two folders
compare() {
  $py - "$1" "$2" <<'EOF'
import sys, os, numpy as np
a, b = sys.argv[1], sys.argv[2]
worst, cos = 0.0, 1.0
for f in sorted(os.listdir(a)):
    x = np.load(os.path.join(a, f)).astype(np.float64).ravel()
    y = np.load(os.path.join(b, f)).astype(np.float64).ravel()
    worst = max(worst, np.linalg.norm(x - y) / max(np.linalg.norm(x), 1e-30))
    cos = min(cos, float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-30)))
print(f"{worst:.3g} {cos:.6f}")
EOF
}

size() { stat -c %s "$1" | awk '{printf "%.2f MB", $1/1e6}'; }

# the median_ms of a --json line, to 3 decimals
ms() { sed 's/.*"median_ms":\([0-9.e+-]*\).*/\1/' | awk '{printf "%.3f", $1}'; }

fail=0
rows=()
check() { # NAME MODEL DIR(with b1_input_<i>.npy)
  local name=$1 model=$2 dir=$3
  local args=() ortargs=() i=0 in
  local cal=$work/$name/cal/0
  rm -rf "$work/$name"; mkdir -p "$cal"
  for in in $(inputs "$model"); do
    cp "$dir/b1_input_$i.npy" "$cal/$in.npy"
    args+=(-i "$in=$cal/$in.npy")
    ortargs+=(--input "$in=$cal/$in.npy")
    i=$((i + 1))
  done
  "$inferd" run "$model" "${args[@]}" -o "$work/$name/fp32" >/dev/null
  local base_ms ort_base
  base_ms=$("$inferd" bench "$model" "${args[@]}" --threads "$threads" --json --warmup 1 --iters "$runs" | ms)
  ort_base=$(node "$REFKIT/ort_bench.js" "$model" "${ortargs[@]}" --threads "$threads" --json --runs "$runs" | ms)
  rows+=("| $name | fp32 | $(size "$model") | $base_ms | $ort_base | 1 | - | - | - |")
  local mode
  for mode in ${modes//,/ }; do
    local out=$work/$name/$mode.onnx qargs=(--mode "$mode")
    case $mode in
      static) qargs+=(--calibration "$work/$name/cal") ;;
      fp16|bf16) qargs+=(--keep-io-types) ;;
    esac
    if ! "$inferd" quantize "$model" -o "$out" "${qargs[@]}" >"$work/$name/$mode.log" 2>&1; then
      echo "SKIP $name $mode: $(tail -1 "$work/$name/$mode.log")" >&2
      rows+=("| $name | $mode | - | - | - | - | - | - | quantize: $(tail -1 "$work/$name/$mode.log" | cut -c1-80) |")
      continue
    fi
    "$inferd" run "$out" "${args[@]}" -o "$work/$name/$mode.inferd" >/dev/null
    # The graph as written, for the strict comparison: at --opt-level basic
    # inferd computes QDQ as written, where the default level runs QDQ
    # patterns on integer kernels that requantize between layers.
    "$inferd" run "$out" "${args[@]}" --opt-level basic -o "$work/$name/$mode.inferd-basic" >/dev/null
    local ort_ms verdict=pass
    # Agreement: ONNX Runtime at --opt basic runs the graph as written
    # (constant folding, no int8/int4 kernel fusions, which change the
    # numbers: MatMulNBits quantizes activations, QLinear* requantize).
    if ! node "$REFKIT/ort_bench.js" "$out" "${ortargs[@]}" --opt basic --warmup 0 --runs 1 \
        --save-outputs "$work/$name/$mode.ort" >"$work/$name/$mode.ort.log" 2>&1; then
      verdict="ORT FAILED: $(tail -1 "$work/$name/$mode.ort.log" | cut -c1-80)"
      fail=1
      rows+=("| $name | $mode | $(size "$out") | - | - | - | - | - | $verdict |")
      continue
    fi
    # Speed: ONNX Runtime with every optimization, as deployed.
    ort_ms=$(node "$REFKIT/ort_bench.js" "$out" "${ortargs[@]}" --threads "$threads" --json --runs "$runs" \
        --save-outputs "$work/$name/$mode.ortall" 2>/dev/null | ms)
    local t rel relall cos
    t=$("$inferd" bench "$out" "${args[@]}" --threads "$threads" --json --warmup 1 --iters "$runs" | ms)
    read -r rel _ < <(compare "$work/$name/$mode.inferd-basic" "$work/$name/$mode.ort")
    read -r relall _ < <(compare "$work/$name/$mode.inferd" "$work/$name/$mode.ortall")
    read -r _ cos < <(compare "$work/$name/fp32" "$work/$name/$mode.inferd")
    if ! $py -c "import sys; sys.exit(0 if float('$rel') <= $tol else 1)"; then verdict="FAIL (rel L2 > $tol)"; fail=1; fi
    echo "$name $mode: ORT (basic) vs inferd rel L2 $rel (ORT all: $relall), cosine vs fp32 $cos: $verdict" >&2
    rows+=("| $name | $mode | $(size "$out") | $t | $ort_ms | $cos | $rel | $relall | $verdict |")
  done
}

for model in "$models"/*/*_opset17.onnx; do
  [ -f "$model" ] || continue
  name=$(basename "$(dirname "$model")")
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  check "$name" "$model" "$(dirname "$model")"
done
if [ -z "$only" ] || [[ ",$only," == *",digits,"* ]]; then
  # The digits classifier: its test set as one batch-1 reference input.
  d=$work/digits-ref; mkdir -p "$d"
  $py -c "import numpy as np; np.save('$d/b1_input_0.npy', np.load('$repo/models/digits/test/all/input.npy')[:1])"
  check digits "$repo/models/digits/1/model.onnx" "$d"
fi

echo "| model | mode | file | inferd ms | ORT ms | cosine vs fp32 | rel L2 vs ORT basic | rel L2 vs ORT all | ORT |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${rows[@]}"
exit $fail
