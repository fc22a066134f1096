#!/usr/bin/env bash
# The whole pipeline on a lent GPU machine (16 cores render, the GPU trains), in about 9 minutes:
# data -> both models (trained at once on the one GPU) -> evaluation on the unseen library.
#
#   bash scripts/gpu_pipeline.sh SH3D [MINUTES]
#
# SH3D: the allowed Sweet Home 3D archives, as a folder holding the two .deb files of
# `apt-get download sweethome3d sweethome3d-furniture`, a folder they were unpacked into
# (`dpkg-deb -x`), or the slim copies of `python -m train.data.pack_sh3d` (13.5 MB: the device
# machine reaches nothing outside, so they must travel with the working tree; README). Background pictures travel as data/backgrounds (train.data.photo_backgrounds) and
# the reserved evaluation photos as data/backgrounds-eval (evaluation.reserved_backgrounds), both
# a few MB. MINUTES is each model's training budget (default 5). Prints images/s and minutes per
# stage; everything lands under $OUT (default runs/gpu/).
#
# The sizes below are the GPU run's; each can be overridden from the environment, which is how the
# script is checked end to end on a CPU (a few minutes, README "Training"):
#   DEVICE=cpu WORKERS=2 PER_CATEGORY=2 PROC_VIEWS=2 SH3D_VIEWS=1 KATOR_VIEWS=2 VARIANTS=1 \
#   BATCH=4 LOADERS=1 EVAL_EVERY=4 OUT=runs/gpu-smoke bash scripts/gpu_pipeline.sh DEBS 1
set -euo pipefail
cd "$(dirname "$0")/.."
SH3D=${1:?give the folder of the allowed Sweet Home 3D archives}
MINUTES=${2:-5}
OUT=${OUT:-runs/gpu}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-16}          # rendering processes
PER_CATEGORY=${PER_CATEGORY:-380}
PROC_VIEWS=${PROC_VIEWS:-30}
SH3D_VIEWS=${SH3D_VIEWS:-36}
KATOR_VIEWS=${KATOR_VIEWS:-24}
VARIANTS=${VARIANTS:-7}
BATCH=${BATCH:-64}
LOADERS=${LOADERS:-6}           # data-loading processes per training run
EVAL_EVERY=${EVAL_EVERY:-1}     # score every N-th test photo
shopt -s nullglob
SOURCES=("$SH3D"/*.deb)
[ ${#SOURCES[@]} -gt 0 ] || SOURCES=("$SH3D")
mkdir -p "$OUT"
clock() { date +%s; }
start=$(clock)

python -m train.data.generate --out "$OUT/procedural" --per-category "$PER_CATEGORY" --views "$PROC_VIEWS" \
    --seed 21 --workers "$WORKERS" --cutout
python -m train.data.generate_sh3d --source "${SOURCES[@]}" --out "$OUT/sh3d-train" --views "$SH3D_VIEWS" \
    --seed 12 --workers "$WORKERS" --cutout --variants "$VARIANTS" --exclude-libraries KatorLegaz.sh3f
python -m train.data.generate_sh3d --source "${SOURCES[@]}" --out "$OUT/sh3d-kator" --views "$KATOR_VIEWS" \
    --seed 11 --workers "$(( WORKERS < 4 ? WORKERS : 4 ))" --cutout --libraries KatorLegaz.sh3f --resolution 256
rendered=$(clock)
echo "data: $((rendered - start)) s"

# The shipped recipe (README "Training"), from the ImageNet encoder instead of committed weights.
COMMON=(--data "$OUT/procedural" --data "$OUT/sh3d-train" --train_split all --eval_data "$OUT/sh3d-kator"
        --backgrounds data/backgrounds --background_sources wallpapers --background_sources textures
        --background_sources lomiri --steps 100000 --batch_size "$BATCH" --num_workers "$LOADERS"
        --max_minutes "$MINUTES" --backbone efficientnet-lite0 --frozen_stages 3 --frame_fraction 0.4
        --mask_weight 2 --mask_head fpn --log_every 50 --eval_every 500 --device "$DEVICE")
python -m train.vae "${COMMON[@]}" --betas 0.9 0.999 --out "$OUT/vae" &
vae=$!
python -m train.cgan "${COMMON[@]}" --lr_discriminator 1e-4 --adversarial_weight 0.2 --instance_noise 0.1 \
    --instance_noise_steps 800 --r1_weight 5 --bce_weight 0.2 --l1_weight 2 --out "$OUT/cgan" &
cgan=$!
wait "$vae"   # each wait returns its run's exit status, so a failed run stops the script
wait "$cgan"
trained=$(clock)
echo "training: $((trained - rendered)) s"
for kind in vae cgan; do
    python -c "import json; s = json.load(open('$OUT/$kind/training_summary.json')); \
print('$kind', s['steps'], 'steps,', round(s['images_per_s'], 1), 'images/s')"
done

python -m train.evaluate --train-data "$OUT/procedural" --train-data "$OUT/sh3d-train" \
    --test-data "$OUT/sh3d-kator" --backgrounds-eval data/backgrounds-eval --every "$EVAL_EVERY" \
    --model "cGAN=cgan:$OUT/cgan" --model "VAE=vae:$OUT/vae" --out "$OUT/eval" --device "$DEVICE"
echo "evaluation: $(($(clock) - trained)) s; all: $(($(clock) - start)) s"
