#!/bin/bash
# Continue the multi-physics pretraining on a lent GPU for about 8 minutes, then hand the state back.
#
# Before the lease (here, on the CPU machine; the pack is ignored by git and travels with `carry`):
#   .venv/bin/python recipes/pretrain_multiphysics.py --pack data/multiphysics-gpu --pack-mb 30
# The lease (run tool: command "OUT=$OUT bash recipes/gpu_pretrain_multiphysics.sh", carry ["data/multiphysics-gpu"]):
#   resumes from the committed state recipes/state/multiphysics (a copy, under $OUT/state), on CUDA,
#   batch 64, bf16 autocast (the spectral transforms stay float32: there is no bf16 FFT), the same
#   cosine schedule (it continues from the state's step), until MINUTES have passed; the training
#   log, metrics.jsonl and the new state come back under $OUT.
# After the lease: copy $OUT/state/current and $OUT/state/metrics.jsonl over recipes/state/multiphysics/,
#   commit, and publish on the CPU machine (python recipes/pretrain_multiphysics.py --publish).
set -eu
OUT=${OUT:?set OUT to the folder that comes back}
MINUTES=${MINUTES:-8}
PACK=${PACK:-data/multiphysics-gpu}
export PYTHONUNBUFFERED=1
exec > >(tee -a "$OUT/log.txt") 2>&1
echo "[$(date +%T)] $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader)"
test -d "$PACK" || { echo "no corpus pack at $PACK: make it with --pack and carry it"; exit 2; }
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . 2>&1 | tail -2 || true
mkdir -p "$OUT/state"
cp -r recipes/state/multiphysics/. "$OUT/state/"
python3 recipes/pretrain_multiphysics.py --corpus "$PACK" --state "$OUT/state" --device cuda --bf16 \
    --batch-size 64 --threads 8 --minutes "$MINUTES" --checkpoint-every 200 --eval-every 1000
echo "[$(date +%T)] done: state at step $(python3 -c "import json; print(json.load(open('$OUT/state/current/state.json'))['step'])")"
