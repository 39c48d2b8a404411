#!/usr/bin/env bash
# One GPU lease: fine-tune the bundled generator on a (new) sync model's features.
# The sync model is SYNC_DIR if given ("motion": train the conv motion tower here for SYNC_S
# seconds first, then the generator on its features; a folder, e.g. one trained on the CPU, carried along; "init"
# keeps the bundled one, so the whole budget goes to the generator), else the
# best of a sweep of sync-model variants by the event probe (experiments/sync/sync_sweep.py; set
# SWEEP_INIT to fine-tune them from a trained model). Writes into $OUT (at most 8 files):
# log.txt, sweep.tar (sweep only), the new pipeline (config.json + its safetensors, one file or shards) and
# bundle.tar (report.json + history.json).
# BUDGET_S (default 560) bounds the whole run: the generator trains for what is left after the
# sweep, its clips and its feature cache, and its cosine schedule is cut to fit at GEN_RATE
# steps/s; ONSET_WEIGHT (unset: the paper's loss) weights transient frames more; GEN_SEED picks
# other training clips than the preset's (the same seed and count give the same clips); GEN_WORLD
# picks their SynthFoley world (default, varied or mixed; unset: the preset's). GEN_MODEL (a
# ModelConfig preset, e.g. cpu-wide) trains a new generator of that size from scratch on the
# bundle's encoders (and SYNC_DIR's sync model) by the bundle's own recipe (plain flow matching,
# batch 64, constant lr) instead of fine-tuning the bundle's. Sizes come
# from the environment, so the same script smoke-tests on the CPU:
#   OUT=/tmp/o PY=.venv/bin/python SWEEP_S=10 SWEEP_CLIPS=16 PROBE_CLIPS=8 GEN_CLIPS=16 \
#     GEN_BATCH=4 BUDGET_S=150 GEN_RATE=0.5 bash experiments/sync/gpu_retrain.sh
# Timings: H100 (2026-11-26): 3,000 classic clips 19 s, feature cache 79 s, the 16 M generator
# 43 steps/s at batch 64. H200 (2026-12-01): mixed-world clips ~28/s (1,200 in 43 s), their
# cache 25 s, compile 26 s, the 2.2 M cpu-tiny generator 125 steps/s at batch 64 (GEN_RATE's
# default is set a little under it). Run one at a time: two side by side on 4,000 clips each
# spent 440 s on clips and caches and never trained.
set -uo pipefail
cd "$(dirname "$0")/../.."             # the repository root (paths below are relative to it)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # salsav_core without an install (the GPU machine)
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PY:-python3}
W=${WORK:-/tmp/gpu_retrain}
rm -rf "$W"; mkdir -p "$W" "$OUT"
{
  date; nvidia-smi -L 2>/dev/null
  SYNC=()
  if [ "${SYNC_DIR:-}" = motion ]; then
    SYNC=(--train-sync --sync-preset motion --sync-seconds "${SYNC_S:-240}")   # the conv tower, trained here
  elif [ "${SYNC_DIR:-}" = init ]; then
    :                                     # keep the bundled sync model: no sweep
  elif [ -n "${SYNC_DIR:-}" ]; then
    SYNC=(--sync "$SYNC_DIR")
  else
    $PY experiments/sync/sync_sweep.py --out "$W/sweep" --variants "${VARIANTS:-dense,wide-dense}" \
      --seconds "${SWEEP_S:-75}" --steps "${SWEEP_STEPS:-2000}" --clips "${SWEEP_CLIPS:-1024}" \
      --probe-clips "${PROBE_CLIPS:-160}" --reference checkpoints/salsav-synthfoley \
      ${SWEEP_INIT:+--init $SWEEP_INIT} ${SWEEP_LR:+--lr $SWEEP_LR}
    files=(sweep.json)
    if [ -f "$W/sweep/best/model.safetensors" ]; then
      files+=(best/config.json best/model.safetensors best/result.json); SYNC=(--sync "$W/sweep/best")
    fi
    tar -C "$W/sweep" -cf "$OUT/sweep.tar" "${files[@]}"
  fi
  left=$(( ${BUDGET_S:-560} - SECONDS - 10 ))       # 10 s: python and jax start-up
  echo "generator stage: ${left} s left of ${BUDGET_S:-560} s"
  if [ -n "${GEN_MODEL:-}" ]; then      # a new generator from scratch, the bundle's recipe
    GEN=(--encoders checkpoints/salsav-synthfoley --model "$GEN_MODEL" --gen-preset cpu-tiny
         --objective flow --schedule constant --batch "${GEN_BATCH:-64}")
  else                                  # fine-tune the bundle's generator
    GEN=(--init checkpoints/salsav-synthfoley --gen-preset gpu-finetune ${GEN_BATCH:+--batch $GEN_BATCH})
  fi
  $PY scripts/train_bundle.py --out "$W/bundle" "${GEN[@]}" "${SYNC[@]}" \
    --clips "${GEN_CLIPS:-3000}" \
    --gen-steps "${GEN_STEPS:-20000}" --gen-seconds 100000 --deadline "$left" \
    --gen-rate "${GEN_RATE:-110}" ${ONSET_WEIGHT:+--onset-weight $ONSET_WEIGHT} \
    ${GEN_SEED:+--seed $GEN_SEED} ${GEN_WORLD:+--world $GEN_WORLD}
  cp "$W"/bundle/pipeline/config.json "$W"/bundle/pipeline/model*.safetensors "$OUT"/   # one file or shards
  tar -C "$W/bundle" -cf "$OUT/bundle.tar" report.json pipeline/history.json
  date
} 2>&1 | grep --line-buffered -v "Warning\|warnings.warn" | tee "$OUT/log.txt"
