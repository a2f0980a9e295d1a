"""The experiments page of the report: its answer, one card per running experiment, the
finished ones, and the script policy by customer class, in words and tables for people.

The analyses return raw numbers (:mod:`telesales_lab.analysis.experiments`,
:mod:`telesales_lab.analysis.script_policy`); this module turns them into sentences and
formatted tables in the page's language. ``notebooks/08_experiments.ipynb`` shows them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from telesales_lab.labels import check_lang, t

CONTEXT = "experiments"


def _gap(lang: str) -> str:
    """Between two sentences: a space in English, nothing after a Chinese full stop."""
    return "" if lang == "zh" else " "


def _decision(d: str, lang: str) -> str:
    return t(str(d), lang, CONTEXT)


def experiment_page(data, month: str, registry=None, lang: str = "en") -> dict:
    """Everything the page shows, for the experiments as of the last day of ``month`` with calls.

    Returns
    -------
    dict
        ``answer`` (the opening sentence), ``running`` (list of ``{"experiment", "text"}``
        cards), ``finished`` (a table for people: experiment, hypothesis, decision, result,
        ended), ``table`` (:func:`~telesales_lab.analysis.experiments.experiments_table`, raw,
        for the workbook), ``history`` (for the charts) and ``cards`` (raw). Without a
        registry the answer says so in one sentence and the rest is empty.
    """
    from telesales_lab.analysis import experiments as ex
    from telesales_lab.data.periods import parse_month
    from telesales_lab.data.registry import load_registry
    from telesales_lab.exceptions import RegistryError

    check_lang(lang)
    p = parse_month(month)
    path = Path(registry) if registry else ex.default_registry(data)
    empty = {"running": [], "finished": pd.DataFrame(), "table": pd.DataFrame(columns=list(ex.EXPERIMENT_COLUMNS)),
             "history": pd.DataFrame(columns=list(ex.HISTORY_COLUMNS)), "cards": pd.DataFrame()}
    if path is None or not Path(path).is_file():
        where = str(path) if path else str(Path(data.source) / "experiments.toml")
        return {"answer": t("experiments.no_registry", lang).format(path=where), **empty}
    try:
        experiments = load_registry(path)
        ex.check_against_data(experiments, data)
    except RegistryError as exc:
        return {"answer": t("experiments.bad_registry", lang).format(error=str(exc).replace("\n", " ")), **empty}
    calls = data.calls["started_at"]
    in_month = calls[(calls >= p.start_time) & (calls < (p + 1).start_time)]
    as_of = (in_month.max() if len(in_month) else p.end_time).date()
    results = ex.monitor_experiments(data, experiments, as_of=as_of)
    plan = ex.plan_experiment(data, experiments, as_of=as_of)
    cards = ex.experiment_cards(results, plan, lang)
    table = ex.experiments_table(results, lang)
    history = ex.experiment_history(results)
    by_id = {x.id: x for x in experiments}
    running = []
    for c in cards[cards["status"] == "running"].itertuples():
        progress = "-" if pd.isna(c.progress) else f"{min(c.progress, 9.99):.0%}"
        need = "-" if pd.isna(c.n_per_arm) else f"{c.n_per_arm:,.0f}"
        text = t("experiments.card", lang).format(
            experiment=c.experiment_id, hypothesis=c.hypothesis, variants=c.variants, start=c.start,
            end=c.planned_end, have=f"{c.connected_min_arm:,.0f}", need=need, progress=progress, reason=c.reason)
        running.append({"experiment": by_id[c.experiment_id], "text": text})
    done = cards[cards["status"] == "finished"]
    finished = pd.DataFrame({
        t("experiment_id", lang, CONTEXT): done["experiment_id"],
        t("hypothesis", lang, CONTEXT): done["hypothesis"],
        t("decision", lang, CONTEXT): done["decision"].map(lambda d: _decision(d, lang)),
        t("reason", lang, CONTEXT): done["reason"],
        t("ended_on", lang, CONTEXT): done["ended_on"],
    }).reset_index(drop=True)
    waiting = int((cards["status"] == "not_started").sum())
    answer = t("experiments.answer", lang).format(
        n=len(cards), running=len(running), finished=len(done), waiting=waiting, date=as_of.isoformat())
    words = [t("experiments.answer_item", lang).format(experiment=r.experiment_id, decision=_decision(r.decision, lang))
             for r in done.itertuples()]
    if words:
        answer += _gap(lang) + t("experiments.answer_finished", lang).format(
            list=t("experiments.list_sep", lang).join(words))
    return {"answer": answer, "running": running, "finished": finished, "table": table, "history": history,
            "cards": cards}


def policy_text(policy: pd.DataFrame, lang: str = "en") -> str:
    """One sentence per scenario: a script per class (with the gain) or one script for all."""
    check_lang(lang)
    if policy is None or not len(policy):
        return t("experiments.policy_none", lang)
    out = []
    for scen, g in policy.groupby("scenario", sort=True):
        name = t(str(scen), lang, "script_ranking")
        name = name[:1].upper() + name[1:]  # a sentence starts with a capital (no effect on Chinese)
        if g["per_class"].all():
            pairs = ", ".join(t("experiments.policy_pair", lang).format(script=r.recommended_script,
                                                                         cls=t(str(r.customer_class), lang))
                              for r in g.itertuples())
            r = g.iloc[0]
            out.append(t("experiments.policy_per_class", lang).format(
                scenario=name, pairs=pairs, gain=100 * r["gain"], low=100 * r["gain_low"], high=100 * r["gain_high"],
                single=r["single_script"]))
        else:
            r = g.iloc[0]
            p = r["p_adj"]
            out.append(t("experiments.policy_single", lang).format(
                scenario=name, script=r["single_script"], p="-" if pd.isna(p) else f"{p:.2f}"))
    return _gap(lang).join(out)


def policy_table(policy: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The class policy formatted for people (percentages, translated headers)."""
    check_lang(lang)
    f = policy.copy()
    for c in ("share", "rate_recommended", "rate_single"):
        f[c] = [("-" if pd.isna(v) else f"{v:.1%}") for v in f[c]]
    for c in ("gain", "gain_low", "gain_high"):
        f[c] = [("-" if pd.isna(v) else f"{100 * v:+.1f}") for v in f[c]]
    f["p_adj"] = [("-" if pd.isna(v) else f"{v:.3f}") for v in f["p_adj"]]
    f["per_class"] = [t("yes" if v else "no", lang, CONTEXT) for v in f["per_class"]]
    f["customer_class"] = [t(str(v), lang) for v in f["customer_class"]]
    f["scenario"] = [t(str(v), lang, "script_ranking") for v in f["scenario"]]
    keep = ["scenario", "customer_class", "recommended_script", "single_script", "per_class", "share",
            "rate_recommended", "rate_single", "p_adj", "gain", "gain_low", "gain_high"]
    f = f[keep]
    return f.rename(columns={c: t(c, lang, "script_policy") for c in keep})


__all__ = ["experiment_page", "policy_text", "policy_table"]
