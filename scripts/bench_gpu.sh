#!/usr/bin/env bash
# GPU benchmark, on one GPU, in a few minutes:
#   1. the spine bench (predict_efficiency from the decoded-stimulus cache and from PNG files,
#      against a bare forward pass) on the GPU, batch size chosen by trainer.batch_size=auto;
#   2. a 10-model timm sweep (random weights: model.pretrained=false, no download needed) on the
#      edge stimuli, printing each model's images/s and its efficiency (forward time / wall).
# Usage: scripts/bench_gpu.sh [OUT_DIR]     (needs a CUDA device; PSYCHOBENCH_MIRROR for offline data)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d -t psychobench-gpu-XXXX)}
mkdir -p "$OUT"
python - <<'EOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("bench_gpu.sh: no CUDA device here")
print(f"[gpu] {torch.cuda.get_device_name(0)}, torch {torch.__version__}", file=sys.stderr)
EOF
START=$(date +%s)
PSYCHOBENCH_BENCH_ACCELERATOR=gpu python scripts/bench.py --parts spine --repeats 3 > "$OUT/spine.json"
cat "$OUT/spine.json"
MODELS=resnet18,resnet50,convnext_tiny,efficientnet_b0,mobilenetv3_large_100,regnety_008,densenet121,vit_small_patch16_224,deit_tiny_patch16_224,tf_efficientnet_lite2
python -m psychobench.cli.main -m stimuli=edge model=timm "model.name=$MODELS" model.pretrained=false \
    trainer.accelerator=gpu trainer.batch_size=auto trainer.precision=16-mixed trainer.progress_bar=false \
    metrics.n_boot=100 cache_answers=false "results_dir=$OUT/results" > "$OUT/sweep.log" 2>&1
python - "$OUT/results" <<'EOF'
import json, sys
from pathlib import Path
rows = []
for f in sorted(Path(sys.argv[1]).rglob("summary.json")):
    s = json.loads(f.read_text())
    t = s.get("timing", {})
    n, fwd, wall = t.get("images"), t.get("forward_seconds"), s.get("seconds")
    rows.append((s["model"], n, fwd, wall))
print(f"{'model':<28}{'images':>8}{'images/s':>10}{'efficiency':>12}")
for m, n, fwd, wall in rows:
    ips = n / wall if n and wall else float("nan")
    eff = fwd / wall if fwd and wall else float("nan")
    print(f"{m:<28}{n or 0:>8}{ips:>10.1f}{eff:>12.2f}")
if len(rows) != 10:
    sys.exit(f"bench_gpu.sh: {len(rows)} of 10 sweep runs finished; see sweep.log")
EOF
echo "[gpu] total $(( $(date +%s) - START )) s; files in $OUT" >&2
