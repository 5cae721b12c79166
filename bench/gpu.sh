#!/usr/bin/env bash
# The measurements BENCHMARKS.md lists under "To measure on a GPU", as one script for a lent GPU
# machine (one GPU, 16 cores): extraction (decode-only with NVDEC and torchcodec when present,
# end to end, model-only rows/s per backbone), the NVDEC equality test, and the training step at
# the paper's size (reference fp32 vs ours fp32 and bf16, peak memory). JSONs go to $OUT (or
# results/bench). Needs the project installed (make setup) and ffmpeg on PATH.
set -uo pipefail
out=${OUT:-results/bench}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 EAO_PROGRESS=0
py=${PYTHON:-python}
nvidia-smi --query-gpu=name,memory.total --format=csv
$py -m pytest -q -p no:cacheprovider tests/test_nvdec.py 2>&1 | tail -3
$py bench/extraction.py --device cuda --bf16 --videos 16 --seconds 30 --decoders 16 \
    --batch-size 64 --decode-only --end-to-end --out "$out/extraction_gpu.json"
$py bench/extraction.py --device cuda --bf16 --videos 1 --seconds 2 --backbones '' \
    --model-only s3d --batch-size 64 --out "$out/s3d_gpu.json"
$py bench/training.py --device cuda --config paper --videos 224 --steps 3 \
    --out "$out/training_paper_gpu.json"
