"""Every chart of the workbench, one module per page: ``plots.funnel_chart(...)``.

:func:`setup` prepares matplotlib once per notebook (the bundled CJK font, inline figures);
each chart function takes a tidy frame and ``lang`` and returns a matplotlib figure.
"""

from telesales_lab.present.plots.base import font_path, setup
from telesales_lab.present.plots.conversion import conversion_chart, show
from telesales_lab.present.plots.experiments import experiment_chart
from telesales_lab.present.plots.kpi import (drift_chart, grade_chart, kpi_trend_chart, skill_heatmap, skill_heatmaps,
                                            team_radar)
from telesales_lab.present.plots.leads import calibration_chart, importance_chart, lift_chart, score_distribution_chart
from telesales_lab.present.plots.outcomes import followup_chart, funnel_chart, heatmap_chart, objection_chart, trend_chart
from telesales_lab.present.plots.ranking import plot_allocation, plot_intervals, plot_phrases
from telesales_lab.present.plots.targets import attainment_chart, attainment_order
from telesales_lab.present.plots.training import plot_coach_load, plot_effects, plot_team_gaps

__all__ = [
    "setup", "font_path", "funnel_chart", "heatmap_chart", "trend_chart", "objection_chart", "followup_chart",
    "grade_chart", "skill_heatmap", "skill_heatmaps", "team_radar", "kpi_trend_chart", "drift_chart", "plot_intervals",
    "plot_allocation", "plot_phrases", "plot_team_gaps", "plot_coach_load", "plot_effects", "conversion_chart",
    "show", "attainment_chart", "attainment_order", "experiment_chart", "lift_chart", "calibration_chart",
    "score_distribution_chart", "importance_chart",
]
