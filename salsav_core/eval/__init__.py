"""`salsav eval`: objective evaluation of a pipeline on held-out SynthFoley clips.

Measures what the paper measures, with procedural ground truth instead of human labels:
- sync, silence, SWSD and a log-mel statistics distance (`scoring`), with clip-bootstrap
  intervals and paired changes (`bootstrap`);
- all of it at each step count (Fig. 5 left, Table 2; `steps`), for two controls and two
  ablations (`controls`), and for the true audio and the codec round trip, the ceilings
  (`reference`);
- audio conditioning (Fig. 6; `conditioning`): the same scores over a common unseen tail as
  the true-audio reference at the start grows (0, 0.5, 1, 2, 4 s);
- long form (Fig. 5 right; `long_form`): per 10 s segment of 60 s clips, iterative
  window-by-window extension against one single pass over the whole clip.

`run.run_eval(pipe, EvalConfig)` runs the sections, `report.format_table` prints them, `cli.main`
is the command line. The JSON layout is the one `analysis/objective.py` reads.
"""
from .bootstrap import CI_STATS, bootstrap_ci, paired_change, paired_mean_change
from .cli import build_parser, config_from_args, main
from .config import SECTIONS, EvalConfig, EvalError, check_unseen_tail
from .controls import shift_frames
from .report import format_table
from .run import run_eval
from .scoring import MERGE_S, aggregate, chance_matches, nearest_distances, score_segment

__all__ = ["CI_STATS", "MERGE_S", "SECTIONS", "EvalConfig", "EvalError", "aggregate",
           "bootstrap_ci", "build_parser", "chance_matches", "check_unseen_tail",
           "config_from_args", "format_table", "main", "nearest_distances", "paired_change",
           "paired_mean_change", "run_eval", "score_segment", "shift_frames"]
