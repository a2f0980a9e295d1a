"""Coaching packs: one rep's month on one page, for a team lead's one-to-one session.

A pack holds, for one rep and month, only that rep's own data and aggregates of the
rep's team (never another rep's calls):

- the funnel and KPIs against the team's average;
- the skill scores with their intervals, the team mean and the target;
- the month's best and worst calls (by call id, script, objection and outcome; no
  customer data);
- role-play exercises for the weak skills, drawn from the scripts the rep used and the
  objections the rep met;
- the rep's training plan (:func:`telesales_lab.training.plan`) and goals for next month.

:func:`coaching_pack` builds one pack (the coaching notebook shows it);
:func:`build_packs` writes an HTML page per active rep for the monthly report. The
expensive part -- the month's calls, funnels, skill scores and plans -- is computed once
for everyone, vectorised; each page is then a slice of those frames rendered through a
Jinja2 template with the same tables (:func:`table`) and plots (:func:`plot_funnel`,
:func:`plot_skills`) the notebook shows. No kernel is started per rep.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import i18n
from .exceptions import ParameterError
from .i18n import check_lang, t
from .periods import parse_month
from .schema import OUTCOMES

#: Sections of a pack, in page order; each is a DataFrame in the pack and a table on the page.
SECTIONS = ("funnel", "kpis", "skills", "best_calls", "worst_calls", "role_plays", "plan", "goals")
#: Calls shown as best and as worst.
N_CALLS = 5
#: Funnel stages (counts) and KPIs (rates, handle time, revenue) compared with the team.
STAGES = ("dials", "connected", "positive", "sales")
KPIS = ("contact_rate", "positive_rate", "conversion_rate", "objection_save_rate", "aht_s", "revenue")
#: KPIs that get a goal when the rep is below the team: the goal closes half the difference.
GOAL_KPIS = ("contact_rate", "positive_rate", "conversion_rate", "objection_save_rate")
_CALL_COLUMNS = ["call_id", "started_at", "script_id", "scenario", "objection", "outcome", "duration_s", "revenue"]
_OUTCOME_RANK = {o: i for i, o in enumerate(OUTCOMES)}  # no_answer 0 .. sale 4

i18n.register({
    "coaching.title": ("Coaching session", "辅导面谈"),
    "coaching.summary": ("Summary", "概要"),
    "coaching.funnel": ("Funnel against the team", "销售漏斗（与小组对比）"),
    "coaching.kpis": ("KPIs against the team", "关键指标（与小组对比）"),
    "coaching.skills": ("Skills with intervals", "技能得分及区间"),
    "coaching.best_calls": ("Best calls of the month", "本月最佳通话"),
    "coaching.worst_calls": ("Calls to learn from", "本月待改进通话"),
    "coaching.role_plays": ("Role-play scenarios for the weak skills", "薄弱技能角色扮演练习"),
    "coaching.plan": ("Training plan", "培训计划"),
    "coaching.goals": ("Goals for next month", "下月目标"),
    "coaching.note": ("Only this rep's own calls and team averages are shown.",
                      "仅显示该坐席本人的通话及小组平均数据。"),
    "coaching.none": ("nothing this month", "本月无"),
    "coaching.rep_label": ("rep", "坐席"),
    "coaching.team_label": ("team average", "小组平均"),
    "stage": ("stage", "阶段"),
    "rep_value": ("rep", "本人"),
    "team_average": ("team average", "小组平均"),
    "difference": ("difference", "差异"),
    "script_name": ("script name", "话术名称"),
    "times_met": ("times met", "遇到次数"),
    "exercise": ("exercise", "练习内容"),
    "action": ("action", "行动"),
    "objection_save_rate": ("objections saved", "异议挽回率"),
    "none_objection": ("no objection", "无异议"),
})

# Words other modules own too (outcomes, skills, evaluation ...): this module's tables look
# them up in the "coaching" context, so they show even when the owner is not imported, and
# the global labels stay the owners'.
i18n.register({
    "metric": ("metric", "指标"),
    "started_at": ("started at", "开始时间"),
    "duration_s": ("duration (s)", "时长（秒）"),
    "objection": ("objection", "异议"),
    "outcome": ("outcome", "结果"),
    "revenue": ("revenue", "收入"),
    "current": ("current", "当前"),
    "dials": ("dials", "拨打量"),
    "connected": ("connected", "接通量"),
    "positive": ("positive", "积极结果"),
    "sales": ("sales", "成交量"),
    "contact_rate": ("contact rate", "接通率"),
    "positive_rate": ("positive rate", "积极率"),
    "conversion_rate": ("conversion rate", "成交率"),
    "aht_s": ("avg handle time (s)", "平均通话时长（秒）"),
    "ci_low": ("CI low", "置信下限"),
    "ci_high": ("CI high", "置信上限"),
}, context="coaching")

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
def _context(data, month: str, policy=None, lang: str = "en") -> dict:
    """Every section of every active rep's pack, computed once, vectorised.

    Returns a dict with ``sections`` (``{section: long frame with rep_id}``), ``heads``
    (one row per rep: the numbers of the summary) and the month's metadata.
    """
    from . import training
    from .outcomes import funnel, month_calls, objection_recovery
    from .skills import score_skills

    check_lang(lang)
    p = parse_month(month)
    full, st = training.training_settings(policy)
    calls = month_calls(data, month)
    reps = data.reps.astype({"rep_id": "string", "team": "string", "role": "string"})
    peers = reps[reps["role"].isin(st["planned_roles"])]
    active = pd.Index(sorted(set(calls["rep_id"].dropna()) & set(peers["rep_id"])), dtype="string")
    scores = score_skills(data, month, full)
    gaps = training._gaps(scores, data.reps, st)
    plan_all = training.plan(data, month, policy=policy, scores=scores, lang=lang)
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
    c = calls.loc[calls["rep_id"].isin(active) & calls["connected"], _CALL_COLUMNS + ["rep_id"]].copy()
    c["_rank"] = c["outcome"].astype("string").map(_OUTCOME_RANK).astype("int64")
    c["_obj"] = c["objection"].notna()
    best = (c.sort_values(["rep_id", "_rank", "revenue", "duration_s", "call_id"],
                          ascending=[True, False, False, False, True], kind="stable")
            .groupby("rep_id", sort=False).head(N_CALLS))
    worst = (c[~c["call_id"].isin(best["call_id"])]
             .sort_values(["rep_id", "_rank", "_obj", "duration_s", "call_id"],
                          ascending=[True, True, False, False, True], kind="stable")
             .groupby("rep_id", sort=False).head(N_CALLS))
    scripts = data.scripts.astype({"script_id": "string"}).set_index("script_id")["name"].astype("string")
    role_plays = _role_plays(c, obj, skills_all, plan_all, scripts, lang)
    next_end = (p + 1).end_time.normalize()
    goals = _goals(kpis_all, skills_all, plan_all, next_end, lang)
    sections = {
        "funnel": funnel_all, "kpis": kpis_all, "skills": skills_all,
        "best_calls": best[["rep_id"] + _CALL_COLUMNS].reset_index(drop=True),
        "worst_calls": worst[["rep_id"] + _CALL_COLUMNS].reset_index(drop=True),
        "role_plays": role_plays, "plan": plan_all, "goals": goals,
    }
    return {"month": str(p), "lang": lang, "st": st, "reps": reps.set_index("rep_id"), "active": list(active),
            "sections": sections, "heads": _heads(active, mine, theirs, skills_all, plan_all)}


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
    """One exercise per weak skill of each rep: the plan's skills by priority (without a
    plan, the two skills furthest below the team mean), each with the rep's own scripts in
    order of use and the objections the rep lost most often, cycled through when there are
    fewer of them than skills."""
    cols = ["rep_id", "skill", "scenario", "script_id", "script_name", "objection", "times_met", "exercise"]
    planned = plan[["rep_id", "skill"]]
    rel = skills.assign(_rel=skills["score"] - skills["team_mean"])
    rest = rel[~rel["rep_id"].isin(planned["rep_id"])].sort_values(["rep_id", "_rel"], kind="stable")
    weak = pd.concat([planned, rest.groupby("rep_id", sort=False).head(2)[["rep_id", "skill"]]],
                     ignore_index=True)
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
    pack = {"rep_id": rep_id, "team": rep["team"], "role": rep["role"], "month": ctx["month"], "lang": lang}
    for name, frame in ctx["sections"].items():
        mine = frame[frame["rep_id"].eq(rep_id).to_numpy(bool)].reset_index(drop=True)
        pack[name] = mine if name == "plan" else mine.drop(columns="rep_id")
    pack["summary"] = _summary(rep_id, ctx["heads"].loc[rep_id], ctx["month"], lang)
    return pack


i18n.register({
    "goal.close_half": ("close half the gap to the team", "缩小与小组差距的一半"),
    "goal.hold": ("hold at least this level", "保持不低于当前水平"),
    "goal.module": ("module {module} by {method}{coach}", "完成课程 {module}（{method}）{coach}"),
    "summary.calls": ("{rep} made {dials:,.0f} dials in {month}: contact rate {contact} (team {t_contact}), "
                      "conversion {conv} (team {t_conv}).",
                      "{rep} 在 {month} 共拨打 {dials:,.0f} 次：接通率 {contact}（小组 {t_contact}），"
                      "转化率 {conv}（小组 {t_conv}）。"),
    "summary.strong": ("Strongest skill: {skill} ({score:.0f}).", "最强技能：{skill}（{score:.0f} 分）。"),
    "summary.gap": ("First priority: {skill}, {gap:.0f} points to close by {due}.",
                    "首要提升：{skill}，需在 {due} 前提高 {gap:.0f} 分。"),
    "summary.no_gap": ("No credible skill gap this month.", "本月没有明确的技能差距。"),
})


def _pct(v) -> str:
    return "-" if pd.isna(v) else f"{v:.1%}"


def _summary(rep_id: str, h: pd.Series, month: str, lang: str) -> str:
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
        ``rep_id, team, role, month, lang, summary`` (text) and one DataFrame per section:

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
        - ``plan``: the rep's rows of :func:`telesales_lab.training.plan`;
        - ``goals``: ``metric, current, target, due_on, action``.

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
    """Reps (planned roles) with at least one call in the month, sorted."""
    from . import training
    from .periods import in_month

    parse_month(month)
    _, st = training.training_settings(policy)
    calls = data.calls
    ids = set(calls.loc[in_month(calls["started_at"], month).to_numpy(bool), "rep_id"].astype(str))
    reps = data.reps
    planned = set(reps.loc[reps["role"].astype("string").isin(st["planned_roles"]).to_numpy(bool), "rep_id"]
                  .astype(str))
    return sorted(ids & planned)


# ----------------------------------------------------------------------------- display
_VOCAB_COLUMNS = ("stage", "metric", "skill", "method", "outcome", "objection", "scenario")
_RATE_METRICS = ("contact_rate", "positive_rate", "conversion_rate", "objection_save_rate")


def heading(section: str, lang: str = "en") -> str:
    """The translated heading of a pack section."""
    return t(f"coaching.{section}", lang)


def _fmt_num(v: pd.Series) -> np.ndarray:
    return np.array(["-" if pd.isna(x) else f"{x:,.1f}" for x in v.astype(float)], dtype=object)


def _fmt_pct(v: pd.Series) -> np.ndarray:
    return np.array([_pct(x) for x in v.astype(float)], dtype=object)


def _display(frame: pd.DataFrame, section: str, lang: str) -> pd.DataFrame:
    """Format a section (one rep's rows or every rep's) as text for display."""
    f = frame.copy()
    if section in ("kpis", "goals"):
        rate = f["metric"].isin(_RATE_METRICS).to_numpy(bool)
        for col in [c for c in ("rep_value", "team_average", "difference", "current", "target") if c in f]:
            f[col] = np.where(rate, _fmt_pct(f[col]), _fmt_num(f[col]))
    for col in ("rep_value", "team_average", "score", "ci_low", "ci_high", "team_mean", "target", "gap",
                "duration_s", "revenue"):
        if col in f and pd.api.types.is_numeric_dtype(f[col]):
            f[col] = _fmt_num(f[col])
    if "started_at" in f:
        f["started_at"] = pd.to_datetime(f["started_at"]).dt.strftime("%Y-%m-%d %H:%M")
    if "due_on" in f:
        f["due_on"] = pd.to_datetime(f["due_on"]).dt.strftime("%Y-%m-%d")
    for col in _VOCAB_COLUMNS:
        if col in f:
            words = f[col].astype("string")
            f[col] = words.map({w: t(w, lang, "coaching") for w in words.dropna().unique()})
    return f.astype("string").fillna("")


def table(pack: dict, section: str, lang: str | None = None) -> pd.DataFrame:
    """A pack section for display: numbers rounded, vocabulary and headers translated.

    The notebook shows these frames and :func:`render_html` / :func:`build_packs` put the
    same text on the page.

    Returns
    -------
    DataFrame
        The section's frame (columns as in :func:`coaching_pack`), as text.
    """
    if section not in SECTIONS:
        raise ParameterError(f"section == {section!r}, must be one of {'|'.join(SECTIONS)}")
    lang = lang or pack["lang"]
    return i18n.translate_columns(_display(pack[section], section, lang), lang, "coaching")


class Chart(str):
    """An SVG chart: a string that notebooks display as an image (``_repr_svg_``)."""

    def _repr_svg_(self) -> str:
        return str(self)


_GLYPHS: dict = {}


def _font():
    from matplotlib.font_manager import FontProperties

    if "font" not in _GLYPHS:
        try:
            from .plotting import font_path

            _GLYPHS["font"] = FontProperties(fname=str(font_path()))
        except (ImportError, ParameterError):  # no bundled CJK font: matplotlib's default
            _GLYPHS["font"] = FontProperties(family="sans-serif")
    return _GLYPHS["font"]


def _outline(text: str, size: float) -> tuple[str, float]:
    """SVG path data of ``text`` drawn with the bundled CJK font (baseline at y=0), and its
    width. Text becomes outlines, so Chinese shows on machines without Chinese fonts;
    the few distinct labels of a report are cached."""
    key = (text, size)
    hit = _GLYPHS.get(key)
    if hit is None:
        from matplotlib.path import Path as MPath
        from matplotlib.textpath import TextPath

        path = TextPath((0, 0), text, size=size, prop=_font())
        parts = []
        op = {MPath.MOVETO: "M", MPath.LINETO: "L", MPath.CURVE3: "Q", MPath.CURVE4: "C"}
        for verts, code in path.iter_segments(simplify=False, curves=True):
            if code == MPath.CLOSEPOLY:
                parts.append("Z")
                continue
            pts = " ".join(f"{verts[i]:.2f} {-verts[i + 1]:.2f}" for i in range(0, len(verts), 2))
            parts.append(op[code] + pts)
        width = float(path.get_extents().x1) if len(path.vertices) else 0.0
        hit = _GLYPHS[key] = ("".join(parts), width)
    return hit


def _label(x: float, y: float, text: str, size: float = 12, anchor: str = "start", fill: str = "#222") -> str:
    d, width = _outline(str(text), size)
    if anchor == "end":
        x -= width
    elif anchor == "middle":
        x -= width / 2
    return f'<path transform="translate({x:.1f} {y:.1f})" fill="{fill}" d="{d}"/>'


def _nice_top(value: float) -> tuple[float, float]:
    """An axis end and tick step (1, 2, 2.5 or 5 times a power of ten) covering ``value``."""
    if not np.isfinite(value) or value <= 0:
        return 1.0, 0.2
    raw = value / 5
    power = 10 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return float(step * np.ceil(value / step)), float(step)


def _bar_chart(labels, series, *, title: str, xmax: float | None = None, intervals=None, markers=None,
               line=None, extra_keys=()) -> Chart:
    """A horizontal bar chart as inline SVG.

    ``series`` is ``[(name, values, colour), ...]`` (one or two; ``colour`` may be a
    list, one per bar); ``intervals`` is ``(low, high)`` drawn as error bars on the first
    series; ``markers`` is ``(name, values, colour)`` drawn as diamonds; ``line`` is
    ``(name, x, colour)``, a dashed vertical reference line; ``extra_keys`` adds legend
    entries ``(name, colour)``. Written directly as SVG (text as outlines of the bundled
    font) so that a page costs milliseconds, not a plotting library's layout pass.
    """
    from html import escape

    n, k = len(labels), len(series)
    vals = [np.asarray(v, dtype=float) for _, v, _ in series]
    if xmax is None:
        peak = max([np.nanmax(v) if np.isfinite(v).any() else 0.0 for v in vals] + [0.0])
        top, step = _nice_top(peak)
    else:
        top, step = float(xmax), float(xmax) / 5
    left, right, head, row_h, foot = 150, 40, 34, 26 if k == 1 else 34, 46
    width, plot_w = 720, 720 - 150 - 40
    height = head + n * row_h + foot
    bottom = head + n * row_h

    def x(v):
        return left + plot_w * min(max(float(v), 0.0), top) / top

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>',
           _label(width / 2, 20, title, 14, "middle")]
    for v in np.arange(0.0, top + step / 2, step):  # grid and axis ticks
        gx = x(v)
        out.append(f'<line x1="{gx:.1f}" y1="{head - 4}" x2="{gx:.1f}" y2="{bottom}" stroke="#e5e5e5"/>')
        out.append(_label(gx, bottom + 14, f"{v:,.0f}" if step >= 1 else f"{v:,.1f}", 10, "middle", "#555"))
    bar_h = (row_h - 8) / k
    for i, name in enumerate(labels):
        y0 = head + i * row_h + 4
        out.append(_label(left - 6, y0 + (row_h - 8) / 2 + 4, name, 12, "end"))
        for j, (sname, _, colour) in enumerate(series):
            v = vals[j][i]
            fill = colour if isinstance(colour, str) else colour[i]
            if np.isfinite(v):
                out.append(f'<rect x="{left}" y="{y0 + j * bar_h:.1f}" width="{x(v) - left:.1f}" '
                           f'height="{bar_h - 1:.1f}" fill="{fill}"><title>{escape(sname)}: {v:,.1f}</title></rect>')
        if intervals is not None and np.isfinite(intervals[0][i]) and np.isfinite(intervals[1][i]):
            lo, hi, cy = x(intervals[0][i]), x(intervals[1][i]), y0 + bar_h / 2
            out.append(f'<path d="M{lo:.1f} {cy:.1f}H{hi:.1f}M{lo:.1f} {cy - 4:.1f}V{cy + 4:.1f}'
                       f'M{hi:.1f} {cy - 4:.1f}V{cy + 4:.1f}" stroke="#222" stroke-width="1.5" fill="none"/>')
        if markers is not None and np.isfinite(markers[1][i]):
            mx, cy = x(markers[1][i]), y0 + bar_h / 2
            out.append(f'<path d="M{mx:.1f} {cy - 5:.1f}L{mx + 5:.1f} {cy:.1f}L{mx:.1f} {cy + 5:.1f}'
                       f'L{mx - 5:.1f} {cy:.1f}Z" fill="{markers[2]}"/>')
    if line is not None and np.isfinite(line[1]):
        lx = x(line[1])
        out.append(f'<line x1="{lx:.1f}" y1="{head - 4}" x2="{lx:.1f}" y2="{bottom}" '
                   f'stroke="{line[2]}" stroke-width="2" stroke-dasharray="6 4"/>')
    keys = [(name, colour if isinstance(colour, str) else "#4C72B0", "rect") for name, _, colour in series]
    keys += [(name, colour, "rect") for name, colour in extra_keys]
    if markers is not None:
        keys.append((markers[0], markers[2], "diamond"))
    if line is not None:
        keys.append((line[0], line[2], "line"))
    lx, ly = left, height - 12
    for name, colour, shape in keys:  # legend
        if shape == "rect":
            out.append(f'<rect x="{lx}" y="{ly - 9}" width="12" height="10" fill="{colour}"/>')
        elif shape == "diamond":
            out.append(f'<path d="M{lx + 6} {ly - 10}L{lx + 11} {ly - 4}L{lx + 6} {ly + 2}L{lx + 1} {ly - 4}Z" '
                       f'fill="{colour}"/>')
        else:
            out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 12}" y2="{ly - 4}" stroke="{colour}" '
                       f'stroke-width="2" stroke-dasharray="4 2"/>')
        out.append(_label(lx + 16, ly, name, 11))
        lx += 16 + _outline(str(name), 11)[1] + 18
    out.append("</svg>")
    return Chart("".join(out))


def plot_skills(pack: dict, lang: str | None = None) -> Chart:
    """The rep's skill scores (red: a credible gap) with intervals, the team mean
    (diamonds) and the target (dashed line), as an SVG chart.

    Returns
    -------
    Chart
        SVG text; a notebook displays it as an image.
    """
    sk = pack["skills"]
    return _skills_chart({c: sk[c].to_numpy() for c in _SKILL_CHART}, lang or pack["lang"])


_SKILL_CHART = ("skill", "score", "ci_low", "ci_high", "team_mean", "target", "gap")


def _skills_chart(a: dict, lang: str) -> Chart:
    score = a["score"].astype(float)
    gap = a["gap"].astype(float) > 0
    target = float(a["target"][0]) if len(score) else np.nan
    return _bar_chart(
        [t(str(s), lang) for s in a["skill"]], [(t("score", lang), score, np.where(gap, "#C44E52", "#4C72B0").tolist())],
        title=heading("skills", lang), xmax=100.0,
        intervals=(a["ci_low"].astype(float), a["ci_high"].astype(float)),
        markers=(t("team_mean", lang), a["team_mean"].astype(float), "#DD8452"),
        line=(t("target", lang), target, "#55A868"), extra_keys=[(t("gap", lang), "#C44E52")])


def plot_funnel(pack: dict, lang: str | None = None) -> Chart:
    """The rep's funnel stages beside the team's average per rep, as an SVG chart.

    Returns
    -------
    Chart
        SVG text; a notebook displays it as an image.
    """
    fu = pack["funnel"]
    return _funnel_chart({c: fu[c].to_numpy() for c in _FUNNEL_CHART}, lang or pack["lang"])


_FUNNEL_CHART = ("stage", "rep_value", "team_average")


def _funnel_chart(a: dict, lang: str) -> Chart:
    return _bar_chart([t(str(s), lang) for s in a["stage"]],
                      [(t("coaching.rep_label", lang), a["rep_value"].astype(float), "#4C72B0"),
                       (t("coaching.team_label", lang), a["team_average"].astype(float), "#BBBBBB")],
                      title=heading("funnel", lang))


def _escape(col: pd.Series) -> pd.Series:
    return (col.astype("string").fillna("").str.replace("&", "&amp;", regex=False)
            .str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)
            .str.replace('"', "&quot;", regex=False))


def _rows_html(frame: pd.DataFrame) -> pd.Series:
    """``<tr>`` markup of every row of a display frame, built column-wise."""
    row = pd.Series("<tr>", index=frame.index, dtype="string")
    for col in frame.columns:
        row = row + "<td>" + _escape(frame[col]) + "</td>"
    return row + "</tr>"


def _head_html(columns) -> str:
    from html import escape

    return '<table class="dataframe"><thead><tr>' + "".join(f"<th>{escape(str(c))}</th>" for c in columns) + \
        "</tr></thead><tbody>"


def _html_table(frame: pd.DataFrame) -> str | None:
    """A display frame as an HTML table (None when it has no rows)."""
    if frame.empty:
        return None
    return _head_html(frame.columns) + "".join(_rows_html(frame)) + "</tbody></table>"


_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<title>{{ title }} · {{ pack.rep_id }} · {{ pack.month }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
.note{color:#666;font-size:.85em} svg{max-width:100%;height:auto}
</style></head><body>
<h1>{{ title }}: {{ pack.rep_id }} ({{ pack.team }}) · {{ pack.month }}</h1>
<p class="note">{{ note }}</p>
<h2>{{ headings.summary }}</h2>
<p>{{ pack.summary }}</p>
{% for s in sections %}<h2>{{ headings[s] }}</h2>
{% if s in plots %}{{ plots[s] | safe }}{% endif %}
{% if tables[s] is none %}<p class="note">{{ none }}</p>{% else %}{{ tables[s] | safe }}{% endif %}
{% endfor %}
</body></html>
"""


def _environment():
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_TEMPLATE)


def render_html(pack: dict, lang: str | None = None) -> str:
    """The pack as one self-contained HTML page (tables and inline SVG charts).

    Returns
    -------
    str
        HTML with the sections, tables (:func:`table`) and charts (:func:`plot_funnel`,
        :func:`plot_skills`) the coaching notebook shows -- the very page
        :func:`build_packs` writes for the rep.
    """
    lang = lang or pack["lang"]
    tables = {s: _html_table(table(pack, s, lang)) for s in SECTIONS}
    charts = {"funnel": plot_funnel(pack, lang), "skills": plot_skills(pack, lang)}
    return _page(pack, tables, charts, lang, _environment())


def _page(head: dict, tables: dict, charts: dict, lang: str, template) -> str:
    return template.render(
        pack=head, sections=SECTIONS, tables=tables, plots=charts, title=t("coaching.title", lang),
        note=t("coaching.note", lang), none=t("coaching.none", lang), html_lang="zh-CN" if lang == "zh" else "en",
        headings={s: heading(s, lang) for s in SECTIONS + ("summary",)})


def _all_tables(ctx: dict, lang: str) -> dict:
    """``{section: {rep_id: table HTML}}`` for every rep at once: each section is
    formatted and turned into rows of markup in one vectorised pass, then joined per rep."""
    out = {}
    for name, frame in ctx["sections"].items():
        disp = _display(frame, name, lang)
        cols = [c for c in disp.columns if c != "rep_id" or name == "plan"]
        head = _head_html(i18n.translate_columns(disp[cols].iloc[:0], lang, "coaching").columns)
        rows = _rows_html(disp[cols])
        bodies = rows.groupby(frame["rep_id"].to_numpy(), sort=False).agg("".join)  # one join per rep
        out[name] = {rep: head + body + "</tbody></table>" for rep, body in bodies.items()}
    return out


def _all_arrays(frame: pd.DataFrame, columns) -> dict:
    """``{rep_id: {column: that rep's values}}`` by positions, without a frame per rep."""
    cols = {c: frame[c].to_numpy() for c in columns}
    return {rep: {c: v[pos] for c, v in cols.items()}
            for rep, pos in frame.groupby("rep_id", sort=False).indices.items()}


_SAFE = re.compile(r"[^0-9A-Za-z._-]")


def pack_filename(rep_id: str) -> str:
    """``<rep_id>.html``, with characters unsafe in file names replaced by ``_``."""
    return _SAFE.sub("_", str(rep_id)) + ".html"


def build_packs(data, month: str, out_dir, lang: str = "en", rep_ids=None, progress=None,
                policy=None) -> list[Path]:
    """Write a coaching pack per active rep as ``<out_dir>/<rep_id>.html``.

    The month's aggregates are computed once for everyone; each page is then rendered
    from that rep's slice without starting a kernel.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    out_dir : path
        Folder to write into (created). The monthly report passes
        ``reports/YYYY-MM/coaching``.
    lang : {"en", "zh"}
    rep_ids : list of str, optional
        Only these reps (each must be active); default every active rep
        (:func:`active_reps`).
    progress : callable or tqdm-like, optional
        Called as ``progress(done, total, rep_id)`` after each page, or ``progress.update(1)``
        if it has an ``update`` method.
    policy : dict, path or None

    Returns
    -------
    list of Path
        The pages written, in rep order.
    """
    check_lang(lang)
    ctx = _context(data, month, policy, lang)
    if rep_ids is None:
        rep_ids = ctx["active"]
    else:
        rep_ids = [str(r) for r in rep_ids]
        for r in rep_ids:
            _check_active(ctx, data, r, month)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    template = _environment()
    tables = _all_tables(ctx, lang)
    skills = _all_arrays(ctx["sections"]["skills"], _SKILL_CHART)
    funnels = _all_arrays(ctx["sections"]["funnel"], _FUNNEL_CHART)
    no_skills = {c: np.array([]) for c in _SKILL_CHART}
    written = []
    for i, rep_id in enumerate(rep_ids, 1):  # one page per rep from the shared, pre-rendered parts
        rep = ctx["reps"].loc[rep_id]
        head = {"rep_id": rep_id, "team": rep["team"], "month": ctx["month"],
                "summary": _summary(rep_id, ctx["heads"].loc[rep_id], ctx["month"], lang)}
        charts = {"funnel": _funnel_chart(funnels[rep_id], lang),
                  "skills": _skills_chart(skills.get(rep_id, no_skills), lang)}
        html = _page(head, {s: tables[s].get(rep_id) for s in SECTIONS}, charts, lang, template)
        path = out / pack_filename(rep_id)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
        if progress is not None:
            if hasattr(progress, "update"):
                progress.update(1)
            else:
                progress(i, len(rep_ids), rep_id)
    return written
