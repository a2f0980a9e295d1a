"""Fair ranking of call-script variants, adjusted for the reps who used them, with honest verdicts.

One module per concern: :mod:`.cells` (the window's sufficient statistics and parameter
checks), :mod:`.clogit` (conditional logistic regression on the counts), :mod:`.ranker`
(ranking, verdicts, pairwise tests, allocation, calls needed, the assignment plan),
:mod:`.revenue` (revenue per connected call), :mod:`.srm` (sample-ratio check) and
:mod:`.phrases` (phrases that go with a sale). The method is described in :mod:`.ranker`
and in ``docs/methods/script-ranking.md``.
"""

from telesales_lab.analysis.inference import adjust_pvalues, wilson_interval
from telesales_lab.analysis.ranking.cells import BY, CONTEXT, PAIRWISE_COLUMNS, RANK_COLUMNS, VERDICTS, script_cells
from telesales_lab.analysis.ranking.phrases import phrase_analysis
from telesales_lab.analysis.ranking.ranker import (
    ScriptRanker,
    analyse_scripts,
    assignment_plan,
    calls_needed,
    method_text,
    pairwise_comparisons,
    rank_cells,
    rank_scripts,
    ranking_settings,
    raw_vs_adjusted,
    thompson_allocation,
)
from telesales_lab.analysis.ranking.revenue import revenue_per_call
from telesales_lab.analysis.ranking.srm import srm_check

__all__ = [
    "BY", "CONTEXT", "RANK_COLUMNS", "VERDICTS", "PAIRWISE_COLUMNS", "ScriptRanker", "script_cells", "analyse_scripts",
    "rank_scripts", "rank_cells", "raw_vs_adjusted", "pairwise_comparisons", "revenue_per_call", "srm_check",
    "calls_needed", "thompson_allocation", "assignment_plan", "phrase_analysis", "wilson_interval",
    "adjust_pvalues", "ranking_settings", "method_text",
]
