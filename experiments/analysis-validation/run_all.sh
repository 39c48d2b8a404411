#!/bin/bash
# The runs behind README.md, one after the other, single-threaded and niced (2 shared cores).
set -e
cd "$(dirname "$0")/../.."
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
nice -n 10 python experiments/analysis-validation/validate.py --part null --studies 1000 --mixed-every 4
nice -n 10 python experiments/analysis-validation/validate.py --part table1 --studies 300 --mixed-every 3 --seed0 100000
nice -n 10 python experiments/analysis-validation/validate.py --part null-nocs --studies 500 --mixed-every 0 --seed0 200000
