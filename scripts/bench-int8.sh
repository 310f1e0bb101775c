#!/usr/bin/env bash
# Time ResNet-50 static INT8 and bert_like dynamic INT8 against their FP32
# models at one thread, with ONNX Runtime on the same quantized files:
# interleaved rounds of inferd FP32, inferd INT8 and ORT INT8, each line
# "median min" in ms. Not part of CI.
#
#   scripts/bench-int8.sh ROUNDS R50_STATIC.onnx BERT_DYNAMIC.onnx
#
# The quantized files come from `inferd quantize MODEL -o OUT --mode
# static --calibration DIR` and `--mode dynamic`. INFERD (default
# /tmp/inferd) is the binary, MODELS (default $INFERD_REFKIT_MODELS) the
# refkit models, ORT_BENCH (default ../shared/refkit/ort_bench.js) refkit's
# ort_bench.js.
set -euo pipefail
rounds=${1:?rounds}; r50q=${2:?resnet50 static file}; bertq=${3:?bert_like dynamic file}
inferd=${INFERD:-/tmp/inferd}
models=${MODELS:-${INFERD_REFKIT_MODELS:?set MODELS}}
ortb=${ORT_BENCH:-$(dirname "$0")/../../shared/refkit/ort_bench.js}
R=$models/resnet50; B=$models/bert_like
one() { "$@" --threads 1 --warmup 3 --iters 20 2>&1 | sed -n 's/.*median \([0-9.]*\) ms.*min \([0-9.]*\) ms.*/\1 \2/p'; }
ort() { node "$ortb" "$@" --threads 1 --warmup 3 --runs 20 --json 2>/dev/null | tail -1 |
  /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print('%.3f %.3f' % (d['median_ms'], d['min_ms']))"; }
RI=(-i "input=$R/b1_input_0.npy"); BI=(-i "input_ids=$B/b1_input_0.npy" -i "attention_mask=$B/b1_input_1.npy")
for r in $(seq "$rounds"); do
  echo "round $r load $(cut -d' ' -f1 /proc/loadavg)"
  echo "r50-fp32 $(one "$inferd" bench "$R/resnet50_opset17.onnx" "${RI[@]}")"
  echo "r50-int8 $(one "$inferd" bench "$r50q" "${RI[@]}")"
  echo "r50-int8-ort $(ort "$r50q" --input "input=$R/b1_input_0.npy")"
  echo "bert-fp32 $(one "$inferd" bench "$B/bert_like_opset17.onnx" "${BI[@]}")"
  echo "bert-int8 $(one "$inferd" bench "$bertq" "${BI[@]}")"
  echo "bert-int8-ort $(ort "$bertq" --input "input_ids=$B/b1_input_0.npy" --input "attention_mask=$B/b1_input_1.npy")"
done
