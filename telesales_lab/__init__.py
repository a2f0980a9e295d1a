"""telesales-lab: a Jupyter workbench for telephone-sales teams.

The functions notebooks use are re-exported here and imported on first use, so that
``import telesales_lab`` (and the CLI's start-up) stays fast::

    import telesales_lab as tl
    data = tl.load_dataset("data/demo")
    tl.funnel(data, "2026-10", by="team")
"""

from importlib import import_module

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "load_dataset": "io", "validate_dataset": "io", "write_table": "io", "Dataset": "io",
    "generate_demo": "demo", "write_demo": "demo",
    "funnel": "outcomes", "funnel_total": "outcomes", "funnel_change": "outcomes",
    "monthly_trend": "outcomes", "objection_mix": "outcomes", "objection_recovery": "outcomes",
    "followup_speed": "outcomes", "heatmap": "outcomes", "month_calls": "outcomes",
    "rank_scripts": "script_ranking", "analyse_scripts": "script_ranking",
    "pairwise_comparisons": "script_ranking", "thompson_allocation": "script_ranking",
    "assignment_plan": "script_ranking", "phrase_analysis": "script_ranking",
    "score_skills": "skills",
    "evaluate": "evaluation", "evaluate_period": "evaluation", "award_candidates": "evaluation",
    "promotion_readiness": "evaluation", "kpi_trend": "evaluation",
    "classify_customers": "customers", "customer_class_map": "customers", "care_list": "customers",
    "icc": "calibration", "assessor_drift": "calibration",
    "load_policy": "policy",
    "plan": "training", "team_plan": "training", "annual_calendar": "training",
    "training_effect": "training", "career_readiness": "training",
    "coaching_pack": "coaching", "build_packs": "coaching",
    "run_report": "report", "save_table": "report",
    "mask_phone": "privacy", "scan_outputs": "privacy",
    "import_sources": "importer",
    "TelesalesError": "exceptions", "DataValidationError": "exceptions",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'telesales_lab' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
