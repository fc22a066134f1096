#!/usr/bin/env bash
# The whole pipeline on a lent GPU machine (16 cores render, the GPU trains), in about 9 minutes:
# data -> both models (trained at once on the one GPU) -> evaluation on the unseen library.
#
#   bash scripts/gpu_pipeline.sh SH3D_DIR [MINUTES]
#
# SH3D_DIR holds the allowed Sweet Home 3D archives (sweethome3d.jar, BlendSwap-CC-0.sh3f,
# BlendSwap-CC-BY.sh3f, KatorLegaz.sh3f; from `apt-get download sweethome3d sweethome3d-furniture`
# and `dpkg-deb -x`): the device machine reaches nothing outside, so they must travel with the
# working tree. Background pictures travel as data/backgrounds (train.data.photo_backgrounds) and
# the reserved evaluation photos as data/backgrounds-eval (evaluation.reserved_backgrounds), both
# a few MB. MINUTES is each model's training budget (default 5). Prints images/s and minutes per
# stage; everything lands under runs/gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
SH3D=${1:?give the folder of the allowed Sweet Home 3D archives}
MINUTES=${2:-5}
OUT=runs/gpu
mkdir -p "$OUT"
clock() { date +%s; }
start=$(clock)

python -m train.data.generate --out "$OUT/procedural" --per-category 380 --views 30 --seed 21 \
    --workers 16 --cutout
python -m train.data.generate_sh3d --source "$SH3D" --out "$OUT/sh3d-train" --views 36 --seed 12 \
    --workers 16 --cutout --variants 7 --exclude-libraries KatorLegaz.sh3f
python -m train.data.generate_sh3d --source "$SH3D" --out "$OUT/sh3d-kator" --views 24 --seed 11 \
    --workers 4 --cutout --libraries KatorLegaz.sh3f --resolution 256
rendered=$(clock)
echo "data: $((rendered - start)) s"

COMMON=(--data "$OUT/procedural" --data "$OUT/sh3d-train" --train_split all --eval_data "$OUT/sh3d-kator"
        --backgrounds data/backgrounds --steps 100000 --batch_size 64 --num_workers 6 --max_minutes "$MINUTES"
        --backbone efficientnet-lite0 --frozen_stages 3 --log_every 50 --eval_every 500 --device cuda)
python -m train.vae "${COMMON[@]}" --betas 0.9 0.999 --out "$OUT/vae" &
python -m train.cgan "${COMMON[@]}" --adversarial_weight 0.15 --out "$OUT/cgan" &
wait
trained=$(clock)
echo "training: $((trained - rendered)) s"
for kind in vae cgan; do
    python -c "import json; s = json.load(open('$OUT/$kind/training_summary.json')); \
print('$kind', s['steps'], 'steps,', round(s['images_per_s']), 'images/s')"
done

python -m train.evaluate --train-data "$OUT/procedural" --train-data "$OUT/sh3d-train" \
    --test-data "$OUT/sh3d-kator" --backgrounds-eval data/backgrounds-eval \
    --model "cGAN=cgan:$OUT/cgan" --model "VAE=vae:$OUT/vae" --out "$OUT/eval" --device cuda
echo "evaluation: $(($(clock) - trained)) s; all: $(($(clock) - start)) s"
