"""The answer at the top of each page: summary cards as data, and one template to show them.

Each ``*_card(s)`` function takes the analyses' tidy frames and returns the card's fields as
data (a frame or a dict of plain values), so the fields are unit-tested and the same card can
be rendered to HTML (:func:`render`) for a notebook page or the index. Sentences come from the
label catalogs, so a card reads the same in English and Chinese.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.labels import t
from telesales_lab.present.tables import natural_key, percent_estimate

#: P(best) at or above which the leading script is called a clear winner, likely, leaning.
CERTAINTY = ((0.95, "cards.sure"), (0.80, "cards.likely"), (0.50, "cards.leaning"), (0.0, "cards.unclear"))


def certainty_key(prob_best: float) -> str:
    """Label key of the words for a P(best): sure, likely, leaning, unclear (or no evidence)."""
    if prob_best is None or not np.isfinite(prob_best):
        return "table.no_evidence"
    for low, key in CERTAINTY:
        if prob_best >= low:
            return key
    return "cards.unclear"


def disagreement(cells: pd.DataFrame, raw_leader, best) -> dict:
    """Why the raw leader of a scenario is not the script that sells more rep for rep.

    Parameters
    ----------
    cells : DataFrame
        :func:`telesales_lab.analysis.ranking.script_cells` of one scenario (and class):
        ``rep_id``, ``script_id``, ``connected``, ``sales``.
    raw_leader, best : str
        The script with the highest raw sale rate, and the one ranked first.

    Returns
    -------
    dict
        ``reason``: ``unshared`` when most of the raw leader's connected calls came from reps who
        never used ``best`` (the rep-for-rep comparison cannot use them), ``rep_mix`` when the
        raw leader's reps sell more with any script (their connected-weighted sale rate over all
        scripts, ``mix_raw`` against ``mix_best``, accounts for at least half of the raw gap),
        else ``shared`` (the reps who used both sold more with ``best``: ``shared_reps``,
        ``shared_rate_raw``, ``shared_rate_best``); None without the cells of both scripts.
    """
    cells = cells[cells["connected"] > 0]
    by_rep = cells.groupby("rep_id", observed=True)[["connected", "sales"]].sum()
    rep_rate = by_rep["sales"] / by_rep["connected"]
    per = {}
    for script in (raw_leader, best):
        c = cells[cells["script_id"] == script]
        if c.empty:
            return {"reason": None}
        n = c["connected"].to_numpy(float)
        sums = c.groupby("rep_id", observed=True)[["connected", "sales"]].sum()
        per[script] = {"connected": sums["connected"], "sales": sums["sales"],
                       "raw": c["sales"].sum() / n.sum(),
                       "mix": float((n * rep_rate.reindex(c["rep_id"]).to_numpy(float)).sum() / n.sum())}
    a, b = per[raw_leader], per[best]
    shared = a["connected"].index.intersection(b["connected"].index)
    out = {"mix_raw": a["mix"], "mix_best": b["mix"], "shared_reps": len(shared),
           "unshared_share": float(1 - a["connected"].reindex(shared).sum() / a["connected"].sum()),
           "shared_rate_raw": float(a["sales"].reindex(shared).sum() / a["connected"].reindex(shared).sum())
           if len(shared) else np.nan,
           "shared_rate_best": float(b["sales"].reindex(shared).sum() / b["connected"].reindex(shared).sum())
           if len(shared) else np.nan}
    gap = a["raw"] - b["raw"]
    if out["unshared_share"] > 0.5:
        out["reason"] = "unshared"
    elif gap > 0 and a["mix"] - b["mix"] >= gap / 2:
        out["reason"] = "rep_mix"
    else:
        out["reason"] = "shared"
    return out


def script_cards(ranking: pd.DataFrame, scripts: pd.DataFrame | None = None, srm: pd.DataFrame | None = None,
                 needed: pd.DataFrame | None = None, by_class: pd.DataFrame | None = None,
                 srm_alpha: float = 0.001, cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """One card per scenario (and per customer class whose leading script differs).

    Parameters
    ----------
    ranking : DataFrame
        ``ScriptRanker.ranking_`` / ``rank_scripts`` (one row per scenario and script).
    scripts : DataFrame, optional
        ``data.scripts`` (``script_id``, ``name``) for the scripts' names.
    srm : DataFrame, optional
        ``srm_check`` (``scenario``, ``p_value``, ``srm``).
    needed : DataFrame, optional
        ``ScriptRanker.calls_needed()`` (``scenario``, ``further_a``, ``further_b``).
    by_class : DataFrame, optional
        ``rank_scripts(by="customer_class")``; a card is added for a class whose leading
        script is not the scenario's.
    srm_alpha : float, default 0.001
        p-value below which the split of calls casts doubt (the usual SRM threshold).
    cells : DataFrame, optional
        :func:`telesales_lab.analysis.ranking.script_cells` (with ``customer_class`` for the
        class cards), to say why raw and adjusted leaders differ (:func:`disagreement`).

    Returns
    -------
    DataFrame
        One row per card: ``scenario``, ``customer_class`` (None for all customers),
        ``script_id``, ``script_name``, ``verdict`` (``best``, ``inconclusive`` or
        ``insufficient_data``), ``prob_best``, ``certainty`` (label key), ``runner_up``,
        ``raw_leader`` (highest raw sale rate), ``disagree`` (raw and adjusted leaders
        differ), ``why`` (the :func:`disagreement` of the two, or None), ``srm_doubt``
        (bool, or NaN without a check), ``srm_p``, ``calls_needed`` (further connected calls
        per script for a verdict, 0 when none, NaN when unknown).
    """
    names = {} if scripts is None else dict(zip(scripts["script_id"], scripts["name"]))
    rows = []

    def card(group: pd.DataFrame, scenario, customer_class):
        ranked = group[group["rank"].notna()].sort_values("rank", kind="stable")
        raw = group[group["sale_rate"].notna()]
        row = {"scenario": scenario, "customer_class": customer_class}
        if ranked.empty:
            row.update(script_id=None, script_name=None, verdict="insufficient_data", prob_best=np.nan,
                       certainty="cards.no_verdict", runner_up=None, raw_leader=None, disagree=False, why=None)
        else:
            top = ranked.iloc[0]
            raw_leader = raw.loc[raw["sale_rate"].idxmax(), "script_id"] if not raw.empty else None
            row.update(script_id=top["script_id"], script_name=names.get(top["script_id"]),
                       verdict=top["verdict"], prob_best=float(top["prob_best"]),
                       certainty=certainty_key(float(top["prob_best"])),
                       runner_up=ranked.iloc[1]["script_id"] if len(ranked) > 1 else None,
                       raw_leader=raw_leader, disagree=raw_leader is not None and raw_leader != top["script_id"])
        row["why"] = None
        by_cls = cells is not None and "customer_class" in cells
        if row["disagree"] and cells is not None and (customer_class is None or by_cls):
            mine = cells[cells["scenario"] == scenario]
            if customer_class is not None:
                mine = mine[mine["customer_class"] == customer_class]
            row["why"] = disagreement(mine, row["raw_leader"], row["script_id"])
        if srm is not None and scenario in set(srm["scenario"]):
            s = srm[srm["scenario"] == scenario].iloc[0]
            row.update(srm_doubt=bool(s["p_value"] < srm_alpha), srm_p=float(s["p_value"]))
        else:
            row.update(srm_doubt=np.nan, srm_p=np.nan)
        if needed is not None and customer_class is None and scenario in set(needed["scenario"]):
            n = needed[needed["scenario"] == scenario].iloc[0]
            row["calls_needed"] = float(max(n["further_a"], n["further_b"]))
        else:
            row["calls_needed"] = np.nan
        rows.append(row)
        return row

    for scenario, group in ranking.groupby("scenario", sort=True, observed=True):
        overall = card(group, scenario, None)
        if by_class is None:
            continue
        for cls, sub in by_class[by_class["scenario"] == scenario].groupby("customer_class", sort=True,
                                                                            observed=True):
            ranked = sub[sub["rank"].notna()].sort_values("rank", kind="stable")
            if not ranked.empty and ranked.iloc[0]["script_id"] != overall["script_id"]:
                card(sub, scenario, cls)
    columns = ["scenario", "customer_class", "script_id", "script_name", "verdict", "prob_best", "certainty",
               "runner_up", "raw_leader", "disagree", "why", "srm_doubt", "srm_p", "calls_needed"]
    return pd.DataFrame(rows, columns=columns)


def script_card_sentences(card: dict, lang: str = "en", names: dict | None = None) -> dict:
    """The title and sentences of one script card in ``lang``."""
    names = names or {}

    def label(script_id):
        name = names.get(script_id)
        return f"{script_id} {name}" if name else str(script_id)

    scenario = t(str(card["scenario"]), lang, "script_ranking")
    cls = card.get("customer_class")
    title = scenario if cls is None or (isinstance(cls, float) and np.isnan(cls)) else \
        t("cards.class_title", lang).format(scenario=scenario, cls=t(str(card["customer_class"]), lang))
    out = {"title": title, "lines": []}
    if card["script_id"] is None:
        out["headline"] = t("cards.no_verdict", lang)
        return out
    name = f' {card["script_name"]}' if card.get("script_name") else ""
    # "teach" only on a verdict; a leader without one is named, not recommended
    headline = "cards.teach" if card["verdict"] == "best" else "cards.leads"
    out["headline"] = t(headline, lang).format(script=f'{card["script_id"]}{name}')
    out["lines"].append(t("cards.certainty", lang).format(
        words=t(card["certainty"], lang), p=percent_estimate(card["prob_best"])))
    if card["disagree"]:
        out["lines"].append(t("cards.disagree", lang).format(raw=label(card["raw_leader"]),
                                                              best=card["script_id"]))
        why = card.get("why") or {}
        if why.get("reason"):
            out["lines"].append(t(f"cards.why_{why['reason']}", lang).format(
                raw=card["raw_leader"], best=card["script_id"], n=why["shared_reps"],
                share=f"{why['unshared_share']:.0%}", mix_raw=f"{why['mix_raw']:.1%}",
                mix_best=f"{why['mix_best']:.1%}", rate_raw=f"{why['shared_rate_raw']:.1%}",
                rate_best=f"{why['shared_rate_best']:.1%}"))
    doubt = card.get("srm_doubt")
    if isinstance(doubt, (bool, np.bool_)):
        out["lines"].append(t("cards.srm_doubt" if doubt else "cards.srm_ok", lang))
    needed = card.get("calls_needed")
    if needed is not None and np.isfinite(needed):
        if needed <= 0:
            out["lines"].append(t("cards.needed_none", lang))
        elif not pd.isna(card.get("runner_up")):
            out["lines"].append(t("cards.needed", lang).format(n=f"{needed:,.0f}", a=card["script_id"],
                                                               b=card["runner_up"]))
    return out


def funnel_card(change: pd.DataFrame) -> pd.DataFrame:
    """The month's funnel with its change since last month, as a card's rows.

    Parameters
    ----------
    change : DataFrame
        ``outcomes.funnel_change(data, month, by=None)`` (``metric``, ``current``,
        ``previous``, ``change``, ``relative_change``).

    Returns
    -------
    DataFrame
        ``metric``, ``current``, ``previous``, ``relative_change`` and ``arrow`` (▲, ▼ or
        ▶ for no change; empty without a previous month).
    """
    out = change[["metric", "current", "previous", "relative_change"]].copy()
    rel = out["relative_change"].astype(float)
    out["arrow"] = np.select([rel > 0.0005, rel < -0.0005, rel.notna()], ["▲", "▼", "▶"], "")
    return out.reset_index(drop=True)


def kpi_card(now: pd.DataFrame, before: pd.DataFrame | None = None, awards: pd.DataFrame | None = None,
             readiness: pd.DataFrame | None = None, n: int = 5) -> dict:
    """What a manager reads first on the KPI page.

    Parameters
    ----------
    now, before : DataFrame
        ``evaluation.evaluate`` for the month and the month before (``before`` may be None).
    awards : DataFrame, optional
        ``evaluation.award_candidates(..., "month")``.
    readiness : DataFrame, optional
        ``evaluation.promotion_readiness``.
    n : int, default 5
        Reps in the top, bottom and movers lists.

    Returns
    -------
    dict
        ``grades`` (grade, reps, share), ``top`` and ``bottom`` (rep_id, team, total, grade,
        change), ``movers`` (the largest absolute changes), ``awards`` (scope, rep_id, total),
        ``promotion`` (rep_id, team, next_role), ``n_reps``. Changes are NaN for a rep
        without a score last month.
    """
    scored = now[now["total"].notna()].copy()
    if before is not None and not before.empty:
        prev = pd.to_numeric(before.drop_duplicates("rep_id").set_index("rep_id")["total"], errors="coerce")
        scored["change"] = (pd.to_numeric(scored["total"], errors="coerce")
                            - pd.to_numeric(scored["rep_id"].map(prev), errors="coerce").astype(float))
    else:
        scored["change"] = np.nan
    cols = ["rep_id", "team", "total", "grade", "change"]
    grades = scored["grade"].value_counts().rename_axis("grade").reset_index(name="reps")
    grades = grades.sort_values("grade", kind="stable").reset_index(drop=True)
    grades["share"] = grades["reps"] / max(len(scored), 1)
    top = scored.sort_values("total", ascending=False, kind="stable").head(n)[cols]
    bottom = scored.sort_values("total", ascending=True, kind="stable").head(n)[cols]
    movers = scored[scored["change"].notna()]
    movers = movers.reindex(movers["change"].abs().sort_values(ascending=False, kind="stable").index).head(n)[cols]
    out = {"n_reps": int(len(scored)), "grades": grades, "top": top.reset_index(drop=True),
           "bottom": bottom.reset_index(drop=True), "movers": movers.reset_index(drop=True)}
    if awards is not None:
        a = awards[awards["rep_id"].notna()][["scope", "rep_id", "total"]]
        out["awards"] = a.sort_values("scope", key=lambda s: s.map(natural_key), kind="stable").reset_index(drop=True)
    if readiness is not None:
        r = readiness[readiness["ready"].astype(bool)][["rep_id", "team", "next_role"]]
        out["promotion"] = r.reset_index(drop=True)
    return out


def training_card(plans: pd.DataFrame, load: pd.DataFrame, effects: pd.DataFrame, min_trained: int = 5) -> dict:
    """Who needs what, the coaches' load and the modules that work.

    Parameters
    ----------
    plans : DataFrame
        ``training.plan`` (``rep_id``, ``priority``, ``skill`` ...).
    load : DataFrame
        ``training.coach_load`` (``coach_id``, ``n_coachees``, ``cap``).
    effects : DataFrame
        ``training.training_effect`` (``module_id``, ``skill``, ``effect``, ``ci_low``,
        ``ci_high``, ``n_trained``).
    min_trained : int, default 5
        Fewer trained reps than this: the effect is "too few to tell".

    Returns
    -------
    dict
        ``needs`` (skill, reps: reps whose first priority it is, most first), ``n_with_plan``,
        ``coaches`` (coaches at or over their cap, of all), ``over_cap``, ``working``
        (module_id, skill, effect: interval above 0 with at least ``min_trained`` reps),
        ``too_few`` (modules with fewer trained reps).
    """
    first = plans[plans["priority"] == 1] if "priority" in plans else plans.iloc[0:0]
    needs = first["skill"].value_counts().rename_axis("skill").reset_index(name="reps")
    full = load[load["n_coachees"] >= load["cap"]] if {"n_coachees", "cap"} <= set(load.columns) else load.iloc[0:0]
    eff = effects.copy()
    enough = eff["n_trained"] >= min_trained if "n_trained" in eff else pd.Series(False, index=eff.index)
    working = eff[enough & (eff.get("ci_low", pd.Series(np.nan, index=eff.index)) > 0)]
    return {"needs": needs, "n_with_plan": int(plans["rep_id"].nunique()) if "rep_id" in plans else 0,
            "coaches": int(len(load)), "over_cap": int(len(full)),
            "working": working[["module_id", "skill", "effect"]].sort_values("effect", ascending=False,
                                                                            kind="stable").reset_index(drop=True),
            "too_few": int((~enough).sum())}


# ----------------------------------------------------------------------------- rendering
_TEMPLATE = """<div class="tl-summary">
{%- for card in cards %}
<section class="tl-card">
<h3>{{ card.title }}</h3>
{%- if card.headline %}<p class="tl-headline">{{ card.headline }}</p>{% endif %}
{%- if card.lines %}<ul>{% for line in card.lines %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
{%- for table in card.tables %}{{ table }}{% endfor %}
</section>
{%- endfor %}
</div>"""


def render(cards: list[dict]) -> str:
    """Cards (``title``, ``headline``, ``lines``, ``tables`` = rendered tables) as HTML."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    from markupsafe import Markup

    cards = [{**c, "tables": [Markup(x) for x in c.get("tables", [])]} for c in cards]
    return env.from_string(_TEMPLATE).render(cards=cards)


def html(cards: list[dict]):
    """:func:`render` wrapped for ``display()`` in a notebook."""
    from IPython.display import HTML

    return HTML(render(cards))


# ----------------------------------------------------------------------------- page tops
def ranking_top(ranking, lang="en", *, scripts=None, srm=None, needed=None, by_class=None, cells=None):
    """The script ranking page's cards (see :func:`script_cards`) for ``display()``."""
    cards = script_cards(ranking, scripts, srm=srm, needed=needed, by_class=by_class, cells=cells)
    names = {} if scripts is None else dict(zip(scripts["script_id"], scripts["name"]))
    return html([script_card_sentences(row, lang, names) for row in cards.to_dict("records")])


def outcomes_top(change, lang="en"):
    """The call outcomes page's card: the funnel with its change since last month."""
    from telesales_lab.present.tables import to_html

    rows = funnel_card(change)
    return html([{"title": t("cards.funnel_title", lang), "tables": [to_html(
        rows, lang, kinds={"relative_change": "rate"},
        top=None, columns=["metric", "arrow", "current", "previous", "relative_change"])]}])


def kpi_top(card: dict, lang="en", reps=None):
    """The KPI page's cards from :func:`kpi_card`."""
    from telesales_lab.present.tables import to_html

    grades = "; ".join(f'{g}: {r} ({s:.0%})' for g, r, s in card["grades"].itertuples(index=False))
    cards = [{"title": t("cards.grades_title", lang),
              "headline": t("cards.grades", lang).format(n=card["n_reps"], grades=grades)}]
    table = {"top": None, "reps": reps, "kinds": {"change": "score"}}
    cards.append({"title": t("cards.top_title", lang), "tables": [to_html(card["top"], lang, **table)]})
    cards.append({"title": t("cards.bottom_title", lang), "tables": [to_html(card["bottom"], lang, **table)]})
    if len(card["movers"]):
        cards.append({"title": t("cards.movers_title", lang), "tables": [to_html(card["movers"], lang, **table)]})
    if "awards" in card:
        cards.append({"title": t("cards.awards_title", lang),
                      "tables": [to_html(card["awards"], lang, top=None, reps=reps)] if len(card["awards"])
                      else [], "headline": None if len(card["awards"]) else t("cards.none", lang)})
    if "promotion" in card:
        cards.append({"title": t("cards.promotion_title", lang),
                      "tables": [to_html(card["promotion"], lang, top=None, reps=reps)] if len(card["promotion"])
                      else [], "headline": None if len(card["promotion"]) else t("cards.none", lang)})
    return html(cards)


def training_top(card: dict, lang="en"):
    """The training page's cards from :func:`training_card`."""
    needs = "; ".join(f"{t(str(s), lang)} ({n})" for s, n in card["needs"].itertuples(index=False))
    working = "; ".join(f"{m} {t(str(s), lang)} (+{e:.1f})" for m, s, e in card["working"].itertuples(index=False))
    lines = [t("cards.needs", lang).format(n=card["n_with_plan"], needs=needs or t("cards.none", lang)),
             t("cards.coach_load", lang).format(coaches=card["coaches"], full=card["over_cap"]),
             t("cards.working", lang).format(modules=working or t("cards.none", lang)),
             t("cards.too_few", lang).format(n=card["too_few"])]
    return html([{"title": t("cards.training_title", lang), "lines": lines}])


def previous_evaluation(data, month: str, policy=None) -> pd.DataFrame | None:
    """``evaluation.evaluate`` of the month before ``month``, or None when it has no calls."""
    from telesales_lab.analysis import evaluation
    from telesales_lab.exceptions import ParameterError

    before = str(pd.Period(month, "M") - 1)
    try:
        return evaluation.evaluate(data, before, policy)
    except ParameterError:
        return None
