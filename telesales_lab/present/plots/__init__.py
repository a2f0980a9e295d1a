"""Every chart of the workbench, one module per page: ``plots.funnel_chart(...)``.

:func:`setup` prepares matplotlib once per notebook (the bundled CJK font, inline figures);
each chart function takes a tidy frame and ``lang`` and returns a matplotlib figure.

Each chart's module is imported on first use, so a page pulls in only what its own charts
need (the call-outcomes page never loads the script-ranking models behind their charts).
"""

from telesales_lab import lazy

#: public name -> module of this package that defines it
_EXPORTS = {
    "setup": "base", "font_path": "base",
    "conversion_chart": "conversion", "show": "conversion",
    "experiment_chart": "experiments",
    "drift_chart": "kpi", "grade_chart": "kpi", "kpi_trend_chart": "kpi", "skill_heatmap": "kpi",
    "skill_heatmaps": "kpi", "team_radar": "kpi",
    "calibration_chart": "leads", "importance_chart": "leads", "lift_chart": "leads",
    "score_distribution_chart": "leads",
    "followup_chart": "outcomes", "funnel_chart": "outcomes", "heatmap_chart": "outcomes",
    "objection_chart": "outcomes", "stage_chart": "outcomes", "trend_chart": "outcomes",
    "plot_allocation": "ranking", "plot_intervals": "ranking", "plot_phrases": "ranking",
    "attainment_chart": "targets", "attainment_order": "targets",
    "plot_coach_load": "training", "plot_effects": "training", "plot_team_gaps": "training",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, __all__)
