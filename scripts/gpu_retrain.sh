#!/usr/bin/env bash
# One GPU lease: sweep sync-model variants, keep the one whose features best locate onsets,
# then fine-tune the bundled generator on that sync model's features. Writes into $OUT
# (at most 8 files): log.txt, sweep.tar (sweep.json + the winning sync model), the new
# pipeline (config.json + 4 safetensors shards) and bundle.tar (report.json + history.json).
# Sizes come from the environment so that the same script smoke-tests on the CPU:
#   OUT=/tmp/o SWEEP_S=10 SWEEP_CLIPS=16 PROBE_CLIPS=8 GEN_CLIPS=16 GEN_BATCH=4 GEN_S=10 \
#     bash scripts/gpu_retrain.sh
# Timings on an H100 (2026-11-26): 3,000 clips 19 s, feature cache 79 s, generator 43 steps/s
# at batch 64, base sync model 35 steps/s; a whole run with the defaults is about 8 minutes.
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
PY=${PY:-python3}
W=${WORK:-/tmp/gpu_retrain}
rm -rf "$W"; mkdir -p "$W" "$OUT"
{
  date; nvidia-smi -L 2>/dev/null
  $PY scripts/sync_sweep.py --out "$W/sweep" --variants "${VARIANTS:-dense,wide-dense}" \
    --seconds "${SWEEP_S:-60}" --steps "${SWEEP_STEPS:-2000}" --clips "${SWEEP_CLIPS:-1024}" \
    --probe-clips "${PROBE_CLIPS:-160}" --reference checkpoints/salsav-synthfoley \
    ${SWEEP_INIT:+--init $SWEEP_INIT} ${SWEEP_LR:+--lr $SWEEP_LR}
  files=(sweep.json); SYNC=()
  if [ -f "$W/sweep/best/model.safetensors" ]; then
    files+=(best/config.json best/model.safetensors best/result.json); SYNC=(--sync "$W/sweep/best")
  fi
  tar -C "$W/sweep" -cf "$OUT/sweep.tar" "${files[@]}"
  $PY scripts/train_bundle.py --out "$W/bundle" --init checkpoints/salsav-synthfoley "${SYNC[@]}" \
    --gen-preset gpu-finetune --clips "${GEN_CLIPS:-3000}" ${GEN_BATCH:+--batch $GEN_BATCH} \
    --gen-seconds "${GEN_S:-170}" --gen-steps "${GEN_STEPS:-6000}"
  cp "$W"/bundle/pipeline/config.json "$W"/bundle/pipeline/model-*.safetensors "$OUT"/
  tar -C "$W/bundle" -cf "$OUT/bundle.tar" report.json pipeline/history.json
  date
} 2>&1 | grep --line-buffered -v "Warning\|warnings.warn" | tee "$OUT/log.txt"
