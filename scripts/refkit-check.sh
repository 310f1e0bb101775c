#!/usr/bin/env bash
# Export the refkit models with PyTorch (../shared/refkit, Debian packages)
# and check inferd's outputs against PyTorch's on every one of them:
# relative L2 error ≤ 1e-4 on every output (conformance.TestRefkitModels).
#
#   scripts/refkit-check.sh [WORKDIR]     (default WORKDIR: /tmp/inferd-refkit)
#
# Needs root for apt-get the first time; the export takes a few minutes and
# about 0.7 GB.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/inferd-refkit}
refkit=${REFKIT:-$repo/../shared/refkit}
if [ ! -f "$work/models/manifest.json" ]; then
  if ! /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-torchvision python3-onnx python3-numpy
  fi
  mkdir -p "$work"
  cp -r "$refkit"/*.py "$work"/
  (cd "$work" && /usr/bin/python3 make_models.py --out "$work/models")
fi
cd "$repo"
INFERD_REFKIT_MODELS="$work/models" go test ./conformance ./ir -run 'TestRefkit|TestInferRealModels' -v -count=1 -timeout 30m
