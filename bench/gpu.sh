#!/usr/bin/env bash
# Every GPU measurement of BENCHMARKS.md in one go, each step under its own time budget (the
# whole under 8 minutes on one H100/H200 with 16 cores), then the docs' tables regenerated:
#   1. tests/test_nvdec.py: NVDEC frames against the CPU decoder's
#   2. extraction per backbone, naive vs ours fp32/bf16, interleaved; model-only rows/s per
#      backbone (S3D included), fp32 and bf16                      -> extraction_gpu.json
#   3. one pass with parallel decoders: CPU decode vs NVDEC vs torchcodec (when installed),
#      and every backbone end to end from one decode               -> extraction_passes_gpu.json
#   4. training step at the paper's size: the official recipe (reference, fp16 AMP + GradScaler)
#      and the reference in fp32 against ours in bf16, FLOPs, MFU, peak memory
#                                                                  -> training_gpu.json
#   5. DDP: ours' step on every GPU present, when there are more than one -> ddp_gpu.json
#   6. tools/bench_docs.py --collect: the JSONs into bench/results/, the tables regenerated
#
#   bench/gpu.sh                       # on the GPU machine (make setup; ffmpeg on PATH)
#   bench/gpu.sh --device cpu --tiny   # dry run of the same steps on tiny inputs (minutes)
#
# JSONs go to $OUT (default results/bench; results/bench-dry for --tiny). A dry run renders
# the docs into $OUT/docs instead of touching the repository's. A step that fails or runs out
# of its budget is reported and the rest go on; the exit status is the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
device=cuda tiny=0
while [ $# -gt 0 ]; do
    case $1 in
        --device) device=$2; shift 2 ;;
        --tiny) tiny=1; shift ;;
        *) echo "usage: bench/gpu.sh [--device cuda|cpu] [--tiny]" >&2; exit 2 ;;
    esac
done
if [ "$tiny" = 1 ]; then out=${OUT:-results/bench-dry}; else out=${OUT:-results/bench}; fi
mkdir -p "$out"
export PYTHONUNBUFFERED=1 EAO_PROGRESS=0
py=${PYTHON:-python}
failed=()

step() {  # step NAME BUDGET_S COMMAND...: run under a time budget, note a failure
    local name=$1 budget=$2 start=$SECONDS rc
    shift 2
    echo "== $name (budget ${budget} s): $*"
    timeout --kill-after=10 "$budget" "$@"
    rc=$?
    echo "== $name: exit $rc after $((SECONDS - start)) s"
    [ "$rc" = 0 ] || failed+=("$name")
}

gpus=0
if [ "$device" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total --format=csv
    gpus=$(nvidia-smi --list-gpus | wc -l)
fi
if [ "$tiny" = 1 ]; then  # tiny inputs: the same steps, seconds each
    vids=(--videos 1 --seconds 2 --batch-size 4 --decoders 2)
    backbones=clip models=clip train=(--config tiny --videos 1 --rounds 1) rounds=1
    budget=(240 240 240 240 240)  # correctness, not speed: generous on a busy machine
else
    vids=(--videos 16 --seconds 4 --batch-size 64 --decoders 16)  # ~70 s of video
    backbones=resnet152,resnext101,clip models=resnet152,resnext101,clip,s3d
    train=(--config paper --videos 56 --rounds 2) rounds=2
    budget=(30 140 110 120 40)  # with the docs step (30 s): at most 470 s
fi
bf16=()
[ "$device" = cuda ] && bf16=(--bf16)

[ "$device" = cuda ] && step nvdec "${budget[0]}" \
    "$py" -m pytest -q -p no:cacheprovider tests/test_nvdec.py
step extraction "${budget[1]}" "$py" bench/extraction.py --device "$device" "${bf16[@]}" \
    "${vids[@]}" --rounds "$rounds" --backbones "$backbones" --model-only "$models" \
    --out "$out/extraction_gpu.json"
step passes "${budget[2]}" "$py" bench/extraction.py --device "$device" "${vids[@]}" \
    --backbones '' --decode-only --decode-rounds "$rounds" --end-to-end \
    --out "$out/extraction_passes_gpu.json"
step training "${budget[3]}" "$py" bench/training.py --device "$device" "${train[@]}" \
    --out "$out/training_gpu.json"
if [ "$gpus" -gt 1 ]; then
    step ddp "${budget[4]}" "$py" -m torch.distributed.run --standalone \
        --nproc_per_node "$gpus" bench/ddp.py --device cuda "${train[@]}" --out "$out/ddp_gpu.json"
elif [ "$tiny" = 1 ]; then  # the dry run exercises the DDP step on 2 CPU processes (gloo)
    step ddp "${budget[4]}" "$py" -m torch.distributed.run --standalone --nproc_per_node 2 \
        bench/ddp.py --device cpu "${train[@]}" --out "$out/ddp_gpu.json"
fi
if [ "$tiny" = 1 ]; then
    step docs 60 "$py" tools/bench_docs.py --collect "$out" --results "$out/collected" \
        --out-dir "$out/docs"
else
    step docs 30 "$py" tools/bench_docs.py --collect "$out"
fi
echo "== done in $SECONDS s; failed: ${failed[*]:-none}"
exit "${#failed[@]}"
