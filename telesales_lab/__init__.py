"""telesales-lab: a Jupyter workbench for telephone-sales teams.

The functions notebooks use are re-exported here and imported on first use, so that
``import telesales_lab`` (and the CLI's start-up) stays fast::

    import telesales_lab as tl
    data = tl.load_dataset("data/demo")
    tl.funnel(data, "2026-10", by="team")
"""

from telesales_lab import lazy

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "load_dataset": "data.load", "validate_dataset": "data.load", "write_table": "data.load", "Dataset": "data.load",
    "generate_demo": "data.demo", "write_demo": "data.demo",
    "funnel": "analysis.outcomes", "funnel_total": "analysis.outcomes", "funnel_change": "analysis.outcomes",
    "monthly_trend": "analysis.outcomes", "objection_mix": "analysis.outcomes", "objection_recovery": "analysis.outcomes",
    "followup_speed": "analysis.outcomes", "heatmap": "analysis.outcomes", "month_calls": "analysis.outcomes",
    "rank_scripts": "analysis.ranking", "analyse_scripts": "analysis.ranking",
    "pairwise_comparisons": "analysis.ranking", "thompson_allocation": "analysis.ranking",
    "assignment_plan": "analysis.ranking", "phrase_analysis": "analysis.ranking",
    "load_registry": "data.registry", "monitor_experiments": "analysis.experiments",
    "experiments_table": "analysis.experiments", "experiment_history": "analysis.experiments",
    "plan_experiment": "analysis.experiments", "plan_assignment": "analysis.experiments",
    "script_policy_by_class": "analysis.script_policy",
    "score_skills": "analysis.skills",
    "evaluate": "analysis.evaluation", "evaluate_period": "analysis.evaluation", "award_candidates": "analysis.evaluation",
    "promotion_readiness": "analysis.evaluation", "kpi_trend": "analysis.evaluation",
    "classify_customers": "analysis.customers", "customer_class_map": "analysis.customers", "care_list": "analysis.customers",
    "icc": "analysis.calibration", "assessor_drift": "analysis.calibration",
    "load_policy": "data.policy",
    "plan": "analysis.training", "team_plan": "analysis.training", "annual_calendar": "analysis.training",
    "training_effect": "analysis.training", "career_readiness": "analysis.training",
    "targets": "analysis.targets", "rep_targets": "analysis.targets", "backtest": "analysis.targets",
    "backtest_summary": "analysis.targets", "bonus": "analysis.bonus", "bonus_statement": "analysis.bonus",
    "collections": "analysis.payments",
    "coaching_pack": "analysis.coaching", "build_packs": "present.coaching_page",
    "run_report": "report", "save_table": "report",
    "mask_phone": "data.privacy", "scan_outputs": "data.privacy",
    "import_sources": "data.importer",
    "TelesalesError": "exceptions", "DataValidationError": "exceptions", "RegistryError": "exceptions",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, __all__)
