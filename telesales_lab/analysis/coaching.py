"""Coaching packs: one rep's month on one page, for a team lead's one-to-one session.

A pack holds, for one rep and month, only that rep's own data and aggregates of the
rep's team (never another rep's calls):

- the funnel and KPIs against the team's average;
- the skill scores with their intervals, the team mean and the target;
- the month's best and worst calls (by call id, script, objection and outcome; no
  customer data);
- role-play exercises for the weak skills, drawn from the scripts the rep used and the
  objections the rep met;
- the rep's training plan (:func:`telesales_lab.analysis.training.plan`) and goals for next month;
- the rep's targets (attainment and month-end forecast), the bonus and what the next tier
  takes ("2 more sales at your average order"), and the rep's open collections (customer
  ids only);
- the script experiments the rep takes part in and the split of scripts to use
  (:func:`telesales_lab.analysis.experiments.rep_assignments`), at the end of the summary.

:func:`coaching_pack` builds one pack (the coaching notebook shows it);
:func:`build_packs` writes an HTML page per active rep for the monthly report. The
expensive part -- the month's calls, funnels, skill scores and plans -- is computed once
for everyone, vectorised; each page is then a slice of those frames rendered through a
Jinja2 template with the same tables (:func:`table`) and plots (:func:`plot_funnel`,
:func:`plot_skills`) the notebook shows. No kernel is started per rep.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from telesales_lab.exceptions import ParameterError
from telesales_lab.labels import check_lang, t
from telesales_lab.data.periods import parse_month
from telesales_lab.data.schema import is_person, is_positive


#: Sections of a pack, in page order; each is a DataFrame in the pack and a table on the page.
SECTIONS = ("targets", "bonus", "collections", "funnel", "kpis", "skills", "best_calls", "worst_calls", "role_plays",
            "plan", "goals")

#: Columns of the targets, bonus and collections sections.
TARGET_COLUMNS = ["metric", "target", "actual", "attainment", "forecast", "forecast_low", "forecast_high", "status"]
BONUS_COLUMNS = ["tier", "multiplier", "bonus", "gates_failed", "next_tier", "gap_to_next_tier", "gap_money",
                 "what_it_takes"]
COLLECTION_COLUMNS = ["order_id", "customer_id", "signed_on", "amount", "days_open", "status"]


#: Calls shown as best and as worst.
N_CALLS = 5


#: Funnel stages (counts) and KPIs (rates, handle time, revenue) compared with the team.
STAGES = ("dials", "connected", "positive", "sales")


KPIS = ("contact_rate", "positive_rate", "conversion_rate", "objection_save_rate", "aht_s", "revenue")


#: KPIs that get a goal when the rep is below the team: the goal closes half the difference.
GOAL_KPIS = ("contact_rate", "positive_rate", "conversion_rate", "objection_save_rate")


_CALL_COLUMNS = ["call_id", "started_at", "script_id", "scenario", "objection", "outcome", "duration_s", "revenue"]


#: Best to worst call: a neutral service call is better than a rejection, worse than a callback.
_OUTCOME_RANK = {"no_answer": 0, "rejected": 1, "service": 2, "callback": 3, "interested": 4, "sale": 5}


# role-play exercise per weak skill: {script} {scenario} {objection} are filled in
_EXERCISES = {
    "communication": (
        "Open a {scenario} call with script {script}: greet, say why you call in one sentence, "
        "check it is a good time. The partner plays a hurried customer who says '{objection}'.",
        "用话术 {script} 开场一通{scenario}电话：问候、一句话说明来意、确认对方是否方便。"
        "搭档扮演一位匆忙的客户，提出“{objection}”。"),
    "listening": (
        "On a {scenario} call (script {script}) the partner explains a need and then says "
        "'{objection}'. Summarise what you heard in your own words before answering.",
        "在{scenario}电话中（话术 {script}），搭档先说明需求，然后提出“{objection}”。"
        "回答前先用自己的话复述听到的内容。"),
    "questioning": (
        "Run the discovery part of a {scenario} call with script {script}: ask three open "
        "questions and one follow-up before presenting; the partner hides the '{objection}' concern.",
        "用话术 {script} 进行一通{scenario}电话的需求挖掘：介绍产品前先问三个开放式问题和一个追问；"
        "搭档心里藏着“{objection}”的顾虑。"),
    "objection_handling": (
        "The partner raises '{objection}' on a {scenario} call (script {script}). Acknowledge, "
        "ask one question, answer with a benefit, then ask for the next step. Repeat three times.",
        "搭档在{scenario}电话中（话术 {script}）提出“{objection}”。先认同，再提一个问题，"
        "用利益点回应，最后约定下一步。重复三次。"),
    "product_knowledge": (
        "On a {scenario} call (script {script}) the partner asks three detailed product "
        "questions and raises '{objection}'. Answer without notes, then check against the product sheet.",
        "在{scenario}电话中（话术 {script}），搭档提出三个具体的产品问题并表示“{objection}”。"
        "不看资料作答，之后对照产品资料核对。"),
    "closing": (
        "The partner is interested on a {scenario} call (script {script}) but hesitates with "
        "'{objection}'. Summarise the value and ask for the order twice, in different words.",
        "搭档在{scenario}电话中（话术 {script}）有意向但以“{objection}”犹豫。"
        "总结价值，并用两种不同的说法两次提出成交请求。"),
    "teamwork": (
        "Hand a {scenario} customer (script {script}) over to a colleague after a '{objection}' "
        "objection: write the three-line hand-over note and brief the colleague in one minute.",
        "在客户提出“{objection}”后，把一位{scenario}客户（话术 {script}）转交给同事："
        "写三行交接说明，并用一分钟向同事简要说明。"),
}


_OBJECTION_WORDS = {
    "price": ("it is too expensive", "太贵了"),
    "timing": ("not now, call me later", "现在不是时候"),
    "no_need": ("we do not need it", "我们不需要"),
    "competitor": ("we already use another supplier", "我们已经在用别家的了"),
    "trust": ("I have never heard of your company", "没听说过你们公司"),
    "authority": ("I have to ask my boss", "我得问问领导"),
    None: ("I am not sure", "我再考虑考虑"),
}


# ----------------------------------------------------------------------------- shared aggregates
def _first_per_rep(call_ids: pd.Series, rep: np.ndarray, keys: list[np.ndarray], n: int = N_CALLS) -> np.ndarray:
    """Positions of each rep's first ``n`` rows in the order of ``rep``, then each of ``keys``
    (ascending, missing last), then call id: what sorting by all of them and taking each
    rep's head gives. The call ids (text) are compared only among the rows tied on all the
    rest at the top of a rep's list, not sorted for every call of the month."""
    m = len(rep)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort([*reversed(keys), rep])  # stable; NaN sorts last
    new_rep = np.r_[True, rep[order][1:] != rep[order][:-1]]
    new_run = new_rep.copy()  # a run: rows tied on the rep and every key
    for key in keys:
        v = key[order]
        differ = v[1:] != v[:-1]
        if v.dtype.kind == "f":
            differ &= ~(np.isnan(v[1:]) & np.isnan(v[:-1]))  # two missing values tie
        new_run[1:] |= differ
    idx = np.arange(m)
    rep_start = np.maximum.accumulate(np.where(new_rep, idx, 0))
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    near = run_start - rep_start < n  # in a run that starts among the rep's first n
    top = pd.DataFrame({"run": np.cumsum(new_run)[near], "call": call_ids.iloc[order[near]].to_numpy(),
                        "pos": order[near], "rep": rep[order[near]]})
    top = top.sort_values(["run", "call"], kind="stable").groupby("rep", sort=False).head(n)
    return top["pos"].to_numpy(np.int64)


def _context(data, month: str, policy=None, lang: str = "en") -> dict:
    """Every section of every active rep's pack, computed once, vectorised.

    Returns a dict with ``sections`` (``{section: long frame with rep_id}``), ``heads``
    (one row per rep: the numbers of the summary) and the month's metadata.
    """
    from telesales_lab.analysis import training
    from telesales_lab.analysis.outcomes import funnel, month_calls, objection_recovery
    from telesales_lab.analysis.skills import score_skills

    check_lang(lang)
    p = parse_month(month)
    full, st = training.training_settings(policy)
    calls = month_calls(data, month, customer_class=False)  # the packs never group by customer class
    reps = data.reps.astype({"rep_id": "string", "team": "string", "role": "string"})
    peers = reps[reps["role"].isin(st["planned_roles"]).to_numpy(bool) & is_person(data.reps)]  # no placeholders
    callers = set(calls["rep_id"].dropna().unique().tolist())  # the month's few hundred reps, not its calls
    active = pd.Index(sorted(callers & set(peers["rep_id"].tolist())), dtype="string")
    scores = score_skills(data, month, full)
    gaps = training._gaps(scores, data.reps, st)
    plan_all = training.plan(data, month, policy=policy, lang=lang)  # the training page's, remembered
    plan_all = plan_all[plan_all["rep_id"].isin(active)].reset_index(drop=True)

    # funnel and KPIs per rep, and the team's average over its planned reps with calls
    fr = funnel(data, month, by="rep")
    obj = calls[calls["objection"].notna()]  # the calls the role plays draw on
    saves = objection_recovery(data, month, by="rep").set_index("rep_id")
    saves = saves[["with_objection", "positive"]].set_axis(["objections", "saved"], axis=1)
    fr = fr.merge(saves, left_on="rep_id", right_index=True, how="left").fillna({"objections": 0, "saved": 0})
    fr["team"] = fr["rep_id"].map(reps.set_index("rep_id")["team"])
    fr["objection_save_rate"] = fr["saved"] / fr["objections"].where(fr["objections"] > 0)
    fr["handle_s"] = fr["aht_s"].fillna(0.0) * fr["connected"]
    tm = fr[fr["rep_id"].isin(peers["rep_id"])].groupby("team").agg(
        n=("rep_id", "size"), **{c: (c, "sum") for c in STAGES + ("revenue", "objections", "saved", "handle_s")})
    team = pd.DataFrame(index=tm.index)
    for c in STAGES + ("revenue",):
        team[c] = tm[c] / tm["n"]                                                     # average per rep
    team["contact_rate"] = tm["connected"] / tm["dials"].where(tm["dials"] > 0)       # pooled rates
    team["positive_rate"] = tm["positive"] / tm["connected"].where(tm["connected"] > 0)
    team["conversion_rate"] = tm["sales"] / tm["connected"].where(tm["connected"] > 0)
    team["objection_save_rate"] = tm["saved"] / tm["objections"].where(tm["objections"] > 0)
    team["aht_s"] = tm["handle_s"] / tm["connected"].where(tm["connected"] > 0)
    mine = fr.set_index("rep_id").reindex(active)
    theirs = team.reindex(mine["team"])
    funnel_all = _long(active, STAGES, mine, theirs, "stage")
    kpis_all = _long(active, KPIS, mine, theirs, "metric")
    kpis_all["difference"] = kpis_all["rep_value"] - kpis_all["team_average"]

    skills_all = gaps.loc[gaps["rep_id"].isin(active),
                          ["rep_id", "skill", "score", "ci_low", "ci_high", "team_mean", "target", "gap"]]
    skills_all = skills_all.reset_index(drop=True)

    # best and worst calls per rep, by outcome then revenue / duration
    c = calls.loc[calls["rep_id"].isin(active) & calls["connected"], _CALL_COLUMNS + ["rep_id"]]
    outcome = c["outcome"].astype("string")
    rank = outcome.map(_OUTCOME_RANK).astype("int64").to_numpy()
    rep, _ = pd.factorize(c["rep_id"], sort=True)  # codes in the order of the rep ids
    # best calls are sales; a rep without a sale gets the best positive outcomes instead
    sale = outcome.eq("sale").to_numpy(bool)
    has_sale = (np.bincount(rep, weights=sale, minlength=rep.max() + 1) > 0)[rep] if len(rep) else sale
    good = np.where(has_sale, sale, is_positive(outcome))
    revenue, duration = c["revenue"].to_numpy(float), c["duration_s"].to_numpy(float)
    at = np.flatnonzero(good)  # by outcome, revenue, duration (each best first), then call id
    best_rows = at[_first_per_rep(c["call_id"].iloc[at], rep[at], [-rank[at], -revenue[at], -duration[at]])]
    rest = np.ones(len(c), dtype=bool)
    rest[best_rows] = False
    at = np.flatnonzero(rest)  # worst first: outcome, an objection, long
    objection = c["objection"].notna().to_numpy(float)
    worst_rows = at[_first_per_rep(c["call_id"].iloc[at], rep[at], [rank[at], -objection[at], -duration[at]])]
    best, worst = c.iloc[best_rows], c.iloc[worst_rows]
    scripts = data.scripts.astype({"script_id": "string"}).set_index("script_id")["name"].astype("string")
    role_plays = _role_plays(c, obj, skills_all, plan_all, scripts, lang)
    next_end = (p + 1).end_time.normalize()
    goals = _goals(kpis_all, skills_all, plan_all, next_end, lang)
    targets_all, bonus_all, collections_all, target_heads = _targets_sections(data, month, policy, active, lang)
    sections = {
        "targets": targets_all, "bonus": bonus_all, "collections": collections_all,
        "funnel": funnel_all, "kpis": kpis_all, "skills": skills_all,
        "best_calls": best[["rep_id"] + _CALL_COLUMNS].reset_index(drop=True),
        "worst_calls": worst[["rep_id"] + _CALL_COLUMNS].reset_index(drop=True),
        "role_plays": role_plays, "plan": plan_all, "goals": goals,
    }
    return {"month": str(p), "lang": lang, "st": st, "reps": reps.set_index("rep_id"), "active": list(active),
            "sections": sections,
            "heads": _heads(active, mine, theirs, skills_all, plan_all).join(target_heads),
            "experiments": _experiment_lines(data, month, lang)}


def _targets_sections(data, month: str, policy, active: pd.Index, lang: str):
    """The targets, bonus and collections sections for every active rep, and the summary's numbers.

    Empty sections (with their columns) when the data set has no targets for the month.
    """
    from telesales_lab.analysis.bonus import bonus_statement
    from telesales_lab.analysis.payments import collections
    from telesales_lab.analysis.targets import targets_detail

    detail = targets_detail(data, month, policy=policy)
    mine = detail[(detail["level"] == "rep") & detail["rep_id"].isin(active)]
    targets_all = mine[["rep_id"] + TARGET_COLUMNS].reset_index(drop=True)
    statement = bonus_statement(data, month, policy)
    statement = statement[statement["rep_id"].isin(active)].reset_index(drop=True)
    need = statement["orders_needed"]
    words = t("coaching.bonus_takes", lang)
    statement["what_it_takes"] = pd.array(
        [words.format(n=int(n), avg=a) if pd.notna(n) and pd.notna(a) and n > 0 else pd.NA
         for n, a in zip(need, statement["average_order"])], dtype="string")  # one sentence per rep
    bonus_all = statement[["rep_id"] + BONUS_COLUMNS]
    open_ = collections(data, month, policy=policy)
    collections_all = open_[open_["rep_id"].isin(active)][["rep_id"] + COLLECTION_COLUMNS].reset_index(drop=True)
    # the summary quotes the bonus metric's target
    from telesales_lab.data.policy import resolve_policy

    metric = resolve_policy(policy)["bonus"]["metric"]
    first = mine[mine["metric"] == metric].set_index("rep_id")
    heads = pd.DataFrame(index=active)
    heads["t_metric"] = metric
    for c in ("attainment", "forecast", "target", "status"):
        heads[f"t_{c}"] = first[c].reindex(active).to_numpy()
    return targets_all, bonus_all, collections_all, heads


def _experiment_lines(data, month: str, lang: str) -> pd.DataFrame:
    """Each rep's running script experiments (registry beside the data); none if it is absent or invalid
    (the experiments page reports an invalid registry)."""
    from telesales_lab.analysis.experiments import rep_assignments
    from telesales_lab.exceptions import TelesalesError

    try:
        return rep_assignments(data, month, lang=lang)
    except TelesalesError:
        return pd.DataFrame(columns=["rep_id", "line"])


def _long(active, names, mine, theirs, key) -> pd.DataFrame:
    """Rep and team values of ``names`` as a long frame, one row per rep and name."""
    names = list(names)
    return pd.DataFrame({
        "rep_id": np.repeat(active.to_numpy(), len(names)),
        key: np.tile(names, len(active)),
        "rep_value": mine[names].to_numpy(float).ravel(),
        "team_average": theirs[names].to_numpy(float).ravel(),
    }).astype({"rep_id": "string", key: "string"})


def _heads(active, mine, theirs, skills, plan) -> pd.DataFrame:
    """Per rep, the numbers the summary sentence quotes."""
    h = pd.DataFrame(index=active)
    h["dials"] = mine["dials"].to_numpy(float)
    for k in ("contact_rate", "conversion_rate"):
        h[k] = mine[k].to_numpy(float)
        h[f"team_{k}"] = theirs[k].to_numpy(float)
    top = skills.sort_values(["rep_id", "score"], ascending=[True, False], kind="stable").drop_duplicates("rep_id")
    h["top_skill"] = top.set_index("rep_id")["skill"].reindex(active).to_numpy()
    h["top_score"] = top.set_index("rep_id")["score"].reindex(active).to_numpy(float)
    first = plan[plan["priority"] == 1].set_index("rep_id").reindex(active)
    h["first_skill"] = first["skill"].to_numpy()
    h["first_gap"] = first["gap"].to_numpy(float)
    h["first_due"] = first["due_on"].to_numpy()
    return h


def _role_plays(calls, obj, skills, plan, scripts, lang) -> pd.DataFrame:
    """One exercise per credible skill gap of each rep (the plan's skills by priority), each with the rep's own scripts in
    order of use and the objections the rep lost most often, cycled through when there are
    fewer of them than skills."""
    cols = ["rep_id", "skill", "scenario", "script_id", "script_name", "objection", "times_met", "exercise"]
    # only the plan's skills: those are credible gaps below the target (a rep without one gets none)
    weak = plan[["rep_id", "skill"]].reset_index(drop=True).copy()
    weak["k"] = weak.groupby("rep_id", sort=False).cumcount()
    used = (calls.groupby(["rep_id", "script_id", "scenario"], observed=True).size().rename("n").reset_index()
            .sort_values(["rep_id", "n", "script_id"], ascending=[True, False, True], kind="stable"))
    used["u"] = used.groupby("rep_id", sort=False).cumcount()
    met = (obj.assign(lost=~obj["positive"]).groupby(["rep_id", "objection"], observed=True)
           .agg(times_met=("lost", "size"), lost=("lost", "sum")).reset_index()
           .sort_values(["rep_id", "lost", "times_met", "objection"], ascending=[True, False, False, True],
                        kind="stable"))
    met["m"] = met.groupby("rep_id", sort=False).cumcount()
    k = weak["k"].to_numpy(float)
    weak["u"] = k % weak["rep_id"].map(used.groupby("rep_id").size()).to_numpy(float)  # NaN: no calls
    weak["m"] = k % weak["rep_id"].map(met.groupby("rep_id").size()).to_numpy(float)   # NaN: no objections
    used["u"] = used["u"].astype(float)
    met["m"] = met["m"].astype(float)
    w = weak.dropna(subset=["u"]).merge(used, on=["rep_id", "u"], how="left").merge(
        met[["rep_id", "m", "objection", "times_met"]], on=["rep_id", "m"], how="left")
    w["script_name"] = w["script_id"].map(scripts).fillna(w["script_id"]).astype("string")
    li = 0 if lang == "en" else 1
    objection = w["objection"].astype("string")
    w["exercise"] = [  # a few lines per rep
        _EXERCISES[str(sk)][li].format(script=f"{sid} ({nm})", scenario=t(str(sc), lang),
                                       objection=_OBJECTION_WORDS.get(None if pd.isna(o) else str(o),
                                                                      _OBJECTION_WORDS[None])[li])
        for sk, sid, nm, sc, o in zip(w["skill"], w["script_id"], w["script_name"], w["scenario"], objection)]
    w["objection"] = objection
    w["times_met"] = w["times_met"].fillna(0).astype("int64")
    for col in ("rep_id", "skill", "scenario", "script_id", "exercise"):
        w[col] = w[col].astype("string")
    return w[cols].reset_index(drop=True)


def _goals(kpis, skills, plan, next_end, lang) -> pd.DataFrame:
    """KPI goals (below the team: close half the difference by next month's end; else hold)
    and skill goals (close each plan item's gap by its due date)."""
    k = kpis[kpis["metric"].isin(GOAL_KPIS) & kpis["rep_value"].notna()]
    below = (k["rep_value"] < k["team_average"]).to_numpy(bool)
    kg = pd.DataFrame({
        "rep_id": k["rep_id"], "metric": k["metric"], "current": k["rep_value"],
        "target": np.where(below, k["rep_value"] + (k["team_average"] - k["rep_value"]) / 2, k["rep_value"]),
        "due_on": next_end, "action": np.where(below, t("goal.close_half", lang), t("goal.hold", lang)),
    })
    s = plan.merge(skills[["rep_id", "skill", "score"]], on=["rep_id", "skill"], how="left")
    coach = t("coach_id", lang)
    act = [t("goal.module", lang).format(module=m if pd.notna(m) else "-", method=t(str(me), lang),
                                         coach=f" ({coach} {c})" if pd.notna(c) else "")
           for m, me, c in zip(s["module_id"], s["method"], s["coach_id"])]  # a few lines per rep
    sg = pd.DataFrame({"rep_id": s["rep_id"], "metric": s["skill"], "current": s["score"],
                       "target": s["score"] + s["gap"], "due_on": s["due_on"], "action": act})
    out = pd.concat([kg.assign(_o=0), sg.assign(_o=1)], ignore_index=True)
    out = out.sort_values(["rep_id", "_o"], kind="stable").drop(columns="_o")
    out["due_on"] = pd.to_datetime(out["due_on"]).astype("datetime64[ns]")
    return out.astype({"rep_id": "string", "metric": "string", "action": "string"}).reset_index(drop=True)


# ----------------------------------------------------------------------------- one pack
def _pack(ctx: dict, rep_id: str) -> dict:
    """One rep's pack: that rep's rows of every section (no other rep's rows)."""
    lang = ctx["lang"]
    rep = ctx["reps"].loc[rep_id]
    pack = {"rep_id": rep_id, "name": "" if pd.isna(rep.get("name")) else str(rep.get("name")),
            "team": rep["team"], "role": rep["role"], "month": ctx["month"], "lang": lang}
    for name, frame in ctx["sections"].items():
        mine = frame[frame["rep_id"].eq(rep_id).to_numpy(bool)].reset_index(drop=True)
        pack[name] = mine if name == "plan" else mine.drop(columns="rep_id")
    pack["experiments"] = _experiments_of(ctx, rep_id)
    pack["summary"] = pack_summary(ctx, rep_id)
    return pack


def _experiments_of(ctx: dict, rep_id: str) -> list[str]:
    if "_lines" not in ctx:  # every rep's lines, grouped once for all the pages
        exp = ctx.get("experiments")
        ctx["_lines"] = ({} if exp is None or not len(exp) else
                         {rep: list(lines) for rep, lines in exp.groupby("rep_id", sort=False)["line"]})
    return list(ctx["_lines"].get(rep_id, []))


def pack_summary(ctx: dict, rep_id: str) -> str:
    """The pack's summary: the month in a few sentences, then the rep's running experiments."""
    lang = ctx["lang"]
    gap = "" if lang == "zh" else " "  # no space after a Chinese full stop
    if "_heads" not in ctx:  # one record per rep, made once for all the pages
        ctx["_heads"] = ctx["heads"].to_dict("index")
    parts = [_summary(rep_id, ctx["_heads"][rep_id], ctx["month"], lang)] + _experiments_of(ctx, rep_id)
    return gap.join(parts)


def _pct(v) -> str:
    return "-" if pd.isna(v) else f"{v:.1%}"


def _summary(rep_id: str, h: dict, month: str, lang: str) -> str:
    parts = [t("summary.calls", lang).format(
        rep=rep_id, month=month, dials=np.nan_to_num(h["dials"]), contact=_pct(h["contact_rate"]),
        t_contact=_pct(h["team_contact_rate"]), conv=_pct(h["conversion_rate"]),
        t_conv=_pct(h["team_conversion_rate"]))]
    if pd.notna(h["top_skill"]):
        parts.append(t("summary.strong", lang).format(skill=t(str(h["top_skill"]), lang), score=h["top_score"]))
    if pd.notna(h["first_skill"]):
        parts.append(t("summary.gap", lang).format(skill=t(str(h["first_skill"]), lang), gap=h["first_gap"],
                                                   due=pd.Timestamp(h["first_due"]).strftime("%Y-%m-%d")))
    else:
        parts.append(t("summary.no_gap", lang))
    if "t_attainment" in h and pd.notna(h["t_attainment"]):
        parts.append(t("summary.target", lang).format(
            metric=t(str(h["t_metric"]), lang, "targets"), attainment=_pct(h["t_attainment"]),
            forecast=_pct(h["t_forecast"] / h["t_target"]), status=t(str(h["t_status"]), lang, "targets")))
    return " ".join(parts)


def coaching_pack(data, month: str, rep_id: str, lang: str = "en", policy=None) -> dict:
    """One rep's coaching pack for a month.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    rep_id : str
        A rep with calls in the month (a planned role, ``[training] planned_roles``).
    lang : {"en", "zh"}
    policy : dict, path or None

    Returns
    -------
    dict
        ``rep_id, team, role, month, lang, summary`` (text, ending with the rep's running
        script experiments), ``experiments`` (those lines as a list) and one DataFrame per
        section:

        - ``funnel``: ``stage, rep_value, team_average`` (dials, connected, positive, sales;
          the team average is per planned rep of the team with calls);
        - ``kpis``: ``metric, rep_value, team_average, difference`` (contact, positive and
          conversion rate, objections saved, average handle time, revenue; team rates are
          pooled over the team's calls);
        - ``skills``: ``skill, score, ci_low, ci_high, team_mean, target, gap``;
        - ``best_calls`` / ``worst_calls``: ``call_id, started_at, script_id, scenario,
          objection, outcome, duration_s, revenue`` (connected calls; best = best outcome,
          then revenue; worst = worst outcome, objections first, longest first);
        - ``role_plays``: ``skill, scenario, script_id, script_name, objection, times_met,
          exercise``;
        - ``plan``: the rep's rows of :func:`telesales_lab.analysis.training.plan`;
        - ``goals``: ``metric, current, target, due_on, action``;
        - ``targets``: ``metric, target, actual, attainment, forecast, forecast_low,
          forecast_high, status`` (:func:`telesales_lab.analysis.targets.targets`);
        - ``bonus``: ``tier, multiplier, bonus, gates_failed, next_tier, gap_to_next_tier``
          (result still needed), ``gap_money`` (extra bonus the next tier pays),
          ``what_it_takes`` ("2 more sales at your average order (3,795)");
        - ``collections``: ``order_id, customer_id, signed_on, amount, days_open, status``
          (:func:`telesales_lab.analysis.payments.collections`).

    Raises
    ------
    ParameterError
        ``rep_id`` is unknown, or not a planned role, or made no calls in the month.
    """
    check_lang(lang)
    ctx = _context(data, month, policy, lang)
    _check_active(ctx, data, rep_id, month)
    return _pack(ctx, rep_id)


def _check_active(ctx, data, rep_id, month) -> None:
    if rep_id not in ctx["reps"].index:
        raise ParameterError(f"rep_id == {rep_id!r}: no such rep in {data.files.get('reps', 'reps')}")
    if rep_id not in ctx["active"]:
        role = ctx["reps"].loc[rep_id, "role"]
        roles = "|".join(ctx["st"]["planned_roles"])
        raise ParameterError(f"rep_id == {rep_id!r} ({role}) has no coaching pack for {month}: "
                             f"packs are for {roles} with calls in the month")


def active_reps(data, month: str, policy=None) -> list[str]:
    """People of the planned roles with at least one call in the month, sorted (placeholder
    agents, ``is_person`` false, are never coached)."""
    from telesales_lab.analysis import training
    from telesales_lab.data.periods import in_month

    parse_month(month)
    _, st = training.training_settings(policy)
    calls = data.calls
    ids = set(calls.loc[in_month(calls["started_at"], month).to_numpy(bool), "rep_id"].astype(str))
    reps = data.reps
    planned = set(reps.loc[reps["role"].astype("string").isin(st["planned_roles"]).to_numpy(bool)
                           & is_person(reps), "rep_id"].astype(str))
    return sorted(ids & planned)
