"""Training plans from measured skill gaps, the annual classroom calendar and training effects.

The skill scores (:func:`telesales_lab.analysis.skills.score_skills`) carry an interval. A rep has a
*gap* in a skill when the interval lies wholly below the policy's target or wholly below the
team's mean, so that a noisy score alone never sends anyone to training. Each gap is matched
with a module of the training catalog and a method:

- **classroom** when the gap is shared by a large part of the team (``classroom_share``);
- **online** for knowledge skills (``online_skills``);
- **practice** (role-play) for ``practice_skills`` such as objection handling and closing;
- **coaching** by a named coach for the other skills: a team lead or a senior rep (by
  tenure), never the rep, whose score beats the rep's by ``coach_margin`` points, each coach
  taking at most ``coach_cap`` coachees. Coaches are assigned by a minimum-cost assignment
  over coach capacity slots, which covers as many gaps as possible, the largest first, and
  spreads the load. A gap no coach can take falls back to practice. A team lead (planned
  by default: leads who make calls are sales staff too) is coached by a supervisor or a
  stronger team lead of any team, never by a rep. Placeholder agents (``reps.is_person``
  false) get no plan and coach nobody.

The settings live in the policy file's ``[training]`` table (defaults shipped in
``telesales_lab/defaults/policy.toml``).

Where a ``training_log`` exists, :func:`training_effect` estimates each module's effect on the
assessment scores of its skill by difference in differences: trained reps before and after
their training date against untrained reps of the same role, with rep and month fixed effects
and standard errors clustered by rep.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
import numpy as np
import pandas as pd
from telesales_lab import labels
from telesales_lab.config import default_file, default_label
from telesales_lab.exceptions import DataValidationError, ParameterError, PolicyError
from telesales_lab.data.cache import cached
from telesales_lab.data.periods import month_bounds, parse_month
from telesales_lab.data.schema import ROLES, SKILLS, TRAINING_AREAS, TRAINING_METHODS, is_person


#: Columns of :func:`plan`.
PLAN_COLUMNS = ["rep_id", "priority", "skill", "gap", "module_id", "module_title", "method", "coach_id", "due_on"]


#: Columns of :func:`load_catalog`.
CATALOG_COLUMNS = ["module_id", "title", "title_zh", "skill", "method", "hours", "area"]


#: Columns of :func:`training_effect`.
EFFECT_COLUMNS = ["module_id", "skill", "effect", "ci_low", "ci_high", "p_value", "n_trained", "n_control",
                  "n_assessments"]


#: Keys of the policy's ``[training]`` table (defaults in ``defaults/policy.toml``).
SETTINGS = ("target", "min_gap", "top_n", "planned_roles", "classroom_share", "classroom_min_reps",
            "online_skills", "practice_skills", "coach_roles", "senior_tenure_months", "coach_min_score",
            "coach_margin", "coach_cap", "coach_scope", "due_weeks", "calendar_months", "effect_level",
            "effect_min_trained")


# ----------------------------------------------------------------------------- settings
def training_settings(policy=None) -> tuple[dict, dict]:
    """The full policy and its ``[training]`` table, checked.

    Parameters
    ----------
    policy : dict, path or None
        As for :func:`telesales_lab.data.policy.resolve_policy`; e.g.
        ``{"training": {"coach_cap": 2}}`` changes one setting.

    Returns
    -------
    policy : dict
        The full policy, to pass on to the skill scores.
    settings : dict
        The ``[training]`` table: the shipped defaults overridden by the user's keys.

    Raises
    ------
    PolicyError
        An unknown key, a value of the wrong type or out of range, naming the key and the rule.
    """
    from telesales_lab.data.policy import resolve_policy

    full = resolve_policy(policy)
    settings = copy.deepcopy(full.get("training", {}))
    missing = [k for k in SETTINGS if k not in settings]
    if missing:  # the shipped policy.toml and this module disagree: a packaging mistake
        raise PolicyError(f"{default_label('policy.toml')}: [training] lacks {', '.join(missing)}")
    _check_settings(settings)
    return full, settings


def _check_settings(s: dict) -> None:
    def fail(key, rule):
        raise PolicyError(f"[training] {key} = {s[key]!r}: {rule}")

    def number(key, lo=None, hi=None, integer=False):
        v = s[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            fail(key, "must be a number")
        if integer and int(v) != v:
            fail(key, "must be a whole number")
        if lo is not None and v < lo:
            fail(key, f"must be >= {lo:g}")
        if hi is not None and v > hi:
            fail(key, f"must be <= {hi:g}")

    def words(key, allowed):
        v = s[key]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            fail(key, "must be a list of text in quotes")
        for x in v:
            if x not in allowed:
                fail(key, f"'{x}' is not one of {'|'.join(allowed)}")

    number("target", 0, 100)
    number("min_gap", 0, 100)
    number("top_n", 1, integer=True)
    number("classroom_share", 0, 1)
    number("classroom_min_reps", 1, integer=True)
    number("senior_tenure_months", 0)
    number("coach_min_score", 0, 100)
    number("coach_margin", 0, 100)
    number("coach_cap", 0, integer=True)
    number("calendar_months", 1, 36, integer=True)
    number("effect_level", 0.5, 0.999)
    number("effect_min_trained", 1, integer=True)
    words("planned_roles", ROLES)
    words("coach_roles", ROLES)
    words("online_skills", SKILLS)
    words("practice_skills", SKILLS)
    if not s["planned_roles"]:
        fail("planned_roles", "list at least one role")
    if s["coach_scope"] not in ("team", "centre"):
        fail("coach_scope", "must be team or centre")
    weeks = s["due_weeks"]
    if (not isinstance(weeks, list) or not weeks
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weeks)):
        fail("due_weeks", "must be a non-empty list of weeks >= 0, e.g. [2, 4, 6]")
    for key in ("top_n", "classroom_min_reps", "coach_cap", "calendar_months", "effect_min_trained"):
        s[key] = int(s[key])


# ----------------------------------------------------------------------------- catalog
def default_catalog_path() -> Path:
    """Path of the shipped default training catalog."""
    return default_file("training_catalog.csv")


def load_catalog(data=None, path=None) -> pd.DataFrame:
    """The training catalog: the data set's ``training_catalog`` table, else the default.

    Parameters
    ----------
    data : Dataset, optional
        A loaded data set; its ``training_catalog`` table (validated on loading) wins.
    path : path, optional
        A catalog CSV file to use instead of the shipped default (when ``data`` has none).

    Returns
    -------
    DataFrame
        ``module_id, title, title_zh, skill, method, hours, area``; ``title_zh`` falls back
        to ``title`` where empty. Sorted by ``module_id``.

    Raises
    ------
    DataValidationError
        The catalog file breaks the ``training_catalog`` rules of the data model.
    """
    if data is not None and data.has("training_catalog"):
        frame = data.training_catalog.copy()
    else:
        frame = _read_catalog(Path(path) if path is not None else default_catalog_path())
    out = frame[CATALOG_COLUMNS].copy()
    for col in ("skill", "method", "area"):
        out[col] = out[col].astype("string")
    out["title_zh"] = out["title_zh"].fillna(out["title"])
    return out.sort_values("module_id", kind="stable").reset_index(drop=True)


def _read_catalog(path: Path) -> pd.DataFrame:
    # the same read -> coerce -> pandera path as load.load_dataset
    import pandera.errors

    from telesales_lab.data import load
    from telesales_lab.exceptions import Problem
    from telesales_lab.data.schema import table_schema

    if not path.is_file():
        raise ParameterError(f"catalog == {str(path)!r}: file does not exist")
    raw, rows, problems = load.read_csv_text(path)
    if raw is None:
        raise DataValidationError(problems)
    typed, coerce_problems, failed = load.coerce_table("training_catalog", raw, rows, path.name)
    problems = problems + coerce_problems
    try:
        table_schema("training_catalog").validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
            if str(column) in failed:
                continue  # already reported as unparseable
            pos = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).to_numpy()
            shown = tuple(int(r) for r in rows[pos[:5]]) if len(pos) else ()
            name = str(group["failure_case"].iloc[0]) if check == "column_in_dataframe" else str(column)
            problems.append(Problem(path.name, name, str(check), shown, len(pos),
                                    tuple(str(v) for v in group["failure_case"].astype(str).unique()[:3])))
    if problems:
        raise DataValidationError(problems)
    for name, spec in load.TABLES["training_catalog"].items():
        if spec.kind == "category":
            typed[name] = typed[name].astype(spec.dtype)
    return typed.reset_index(drop=True)


def _module_lookup(catalog: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Best module for each (skill, method): same method first, then any module of the skill.

    Returns
    -------
    DataFrame
        ``skill, method, module_id, module_title`` for every pair that has a module.
    """
    pairs = pd.MultiIndex.from_product([SKILLS, TRAINING_METHODS], names=["skill", "want"]).to_frame(index=False)
    cand = pairs.merge(catalog, on="skill", how="inner")
    cand["rank"] = np.where(cand["method"] == cand["want"], 0,
                            1 + cand["method"].map({m: i for i, m in enumerate(TRAINING_METHODS)}).fillna(9))
    cand = cand.sort_values(["skill", "want", "rank", "module_id"], kind="stable")
    best = cand.drop_duplicates(["skill", "want"])
    title = best["title_zh"] if lang == "zh" else best["title"]
    return pd.DataFrame({"skill": best["skill"].astype("string"), "method": best["want"].astype("string"),
                         "module_id": best["module_id"].astype("string"),
                         "module_title": title.astype("string")}).reset_index(drop=True)


# ----------------------------------------------------------------------------- gaps
def _month_end(month) -> pd.Timestamp:
    return month_bounds(month)[1] - pd.Timedelta(days=1)


def _scores(data, month, policy, scores):
    if scores is not None:
        need = {"rep_id", "skill", "score", "ci_low", "ci_high"}
        missing = need - set(scores.columns)
        if missing:
            raise ParameterError(f"scores: missing column(s) {', '.join(sorted(missing))}; "
                                 "expected the frame of skills.score_skills")
        return scores
    from telesales_lab.analysis.skills import score_skills

    return score_skills(data, month, policy)


def skill_gaps(data, month, policy=None, *, scores=None) -> pd.DataFrame:
    """Every planned rep's skills against the target and the team mean, with credible gaps.

    A gap counts only when the score's interval lies wholly below the reference:
    ``ci_high < target`` for the target gap ``target - score``, ``ci_high < team_mean`` for
    the team gap ``team_mean - score``. ``gap`` is the larger credible one, kept when it is
    at least ``min_gap`` points (else 0).

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``.
    policy : dict, path or None
    scores : DataFrame, optional
        Skill scores already computed (``skills.score_skills``); computed when None.

    Returns
    -------
    DataFrame
        ``rep_id, team, skill, score, ci_low, ci_high, team_mean, target, gap, has_gap,
        n_team, n_team_gap, share_gap`` -- one row per planned rep and skill. ``team_mean``
        is the mean score of the team's planned reps; ``n_team``/``n_team_gap`` count the
        team's planned reps scored / with a gap in the skill.
    """
    parse_month(month)
    full, st = training_settings(policy)
    sc = _scores(data, month, full, scores)
    return _gaps(sc, data.reps, st)


def _gaps(scores: pd.DataFrame, reps: pd.DataFrame, st: dict) -> pd.DataFrame:
    people = reps.loc[is_person(reps), ["rep_id", "team", "role"]].astype(
        {"rep_id": "string", "team": "string", "role": "string"})  # placeholder agents get no plan
    sc = scores[["rep_id", "skill", "score", "ci_low", "ci_high"]].copy()
    sc["rep_id"] = sc["rep_id"].astype("string")
    sc["skill"] = sc["skill"].astype("string")
    sc = sc.merge(people, on="rep_id", how="inner")
    sc = sc[sc["role"].isin(st["planned_roles"]) & sc["score"].notna()].drop(columns="role")
    target = float(st["target"])
    sc["team_mean"] = sc.groupby(["team", "skill"])["score"].transform("mean")
    sc["target"] = target
    high = sc["ci_high"].astype("float64")
    gap_target = np.where(high < target, target - sc["score"], 0.0)
    gap_team = np.where(high < sc["team_mean"], sc["team_mean"] - sc["score"], 0.0)
    gap = np.maximum(np.maximum(gap_target, gap_team), 0.0)
    sc["gap"] = np.round(np.where(gap >= st["min_gap"], gap, 0.0), 1)
    sc["has_gap"] = sc["gap"] > 0
    grp = sc.groupby(["team", "skill"])["has_gap"]
    sc["n_team"] = grp.transform("size").astype("int64")
    sc["n_team_gap"] = grp.transform("sum").astype("int64")
    sc["share_gap"] = sc["n_team_gap"] / sc["n_team"]
    order = {s: i for i, s in enumerate(SKILLS)}
    sc = sc.assign(_o=sc["skill"].map(order)).sort_values(["rep_id", "_o"], kind="stable").drop(columns="_o")
    return sc.reset_index(drop=True)


# ----------------------------------------------------------------------------- coaches
def coach_pool(reps: pd.DataFrame, month, st: dict) -> pd.DataFrame:
    """People who may coach: the coach roles plus reps senior by tenure at the month end.

    Returns
    -------
    DataFrame
        ``coach_id, team, role, tenure_months``.
    """
    end = _month_end(month)
    tenure = (end - reps["hired_on"]).dt.days / (365.25 / 12)
    role = reps["role"].astype("string")
    senior = role.eq("rep") & tenure.ge(st["senior_tenure_months"])
    ok = (role.isin(st["coach_roles"]) | senior) & reps["hired_on"].le(end) & pd.Series(is_person(reps), index=reps.index)
    out = pd.DataFrame({"coach_id": reps["rep_id"].astype("string"), "team": reps["team"].astype("string"),
                        "role": role, "tenure_months": tenure.round(1)})
    return out[ok.fillna(False).to_numpy(bool)].reset_index(drop=True)


_LEADS = "\x00leads"  # the coaching group of team leads and above (not a team name)


def _assign_coaches(items: pd.DataFrame, scores: pd.DataFrame, pool: pd.DataFrame, st: dict) -> pd.Series:
    """Coach for each coaching item (NA where none), by min-cost assignment over capacity slots.

    ``items`` has ``rep_id, team, skill, score, gap, priority``. Costs: every coached item
    earns a large reward (so as many items as possible are coached), plus its gap and
    priority (larger gaps and first priorities first); the k-th slot of a coach costs k
    (so the load is spread); a larger coach advantage is a small tie-breaker.
    """
    from scipy.optimize import linear_sum_assignment

    out = pd.Series(pd.NA, index=items.index, dtype="string")
    cap = st["coach_cap"]
    if items.empty or pool.empty or cap == 0:
        return out
    cs = scores[["rep_id", "skill", "score"]].rename(columns={"rep_id": "coach_id", "score": "coach_score"})
    cs = cs.astype({"coach_id": "string", "skill": "string"})
    cand = pool[["coach_id", "team"]].rename(columns={"team": "coach_team"}).merge(cs, on="coach_id")
    cand = cand[cand["coach_score"] >= st["coach_min_score"]]
    # coach x skill score matrix (NaN where a coach has no score), built once
    matrix = cand.pivot_table(index="coach_id", columns="skill", values="coach_score", aggfunc="first",
                              observed=True).reindex(columns=list(SKILLS))
    team_of = cand.drop_duplicates("coach_id").set_index("coach_id")["coach_team"]
    role_of = pool.drop_duplicates("coach_id").set_index("coach_id")["role"].astype("string")
    groups = items["team"] if st["coach_scope"] == "team" else pd.Series("all", index=items.index)
    groups = groups.astype("string").fillna("")
    if "role" in items:
        # a team lead is coached by a supervisor or a stronger team lead of any team, not a rep
        groups = groups.where(items["role"].astype("string").eq("rep").fillna(True).to_numpy(bool), _LEADS)
    for key, idx in items.groupby(groups, sort=True).groups.items():  # one small problem per team
        it = items.loc[idx]
        if key == _LEADS:
            coaches = matrix.index[role_of.reindex(matrix.index).ne("rep").fillna(False).to_numpy(bool)]
        elif st["coach_scope"] == "centre":
            coaches = matrix.index
        else:
            coaches = matrix.index[team_of.reindex(matrix.index).astype("string").eq(key).fillna(False).to_numpy(bool)]
        if coaches.empty:
            continue
        skill_pos = pd.Index(SKILLS).get_indexer(it["skill"])
        coach_scores = matrix.loc[coaches].to_numpy(float)[:, skill_pos].T   # items x coaches
        diff = coach_scores - it["score"].to_numpy(float)[:, None]
        feasible = (diff >= st["coach_margin"]) & np.isfinite(diff)
        feasible &= coaches.to_numpy()[None, :] != it["rep_id"].to_numpy()[:, None]  # never the rep
        if not feasible.any():
            continue
        reward = 10_000.0 + 10.0 * it["gap"].to_numpy(float) - 5.0 * it["priority"].to_numpy(float)
        base = -(reward[:, None] + 0.01 * np.nan_to_num(diff))                        # items x coaches
        slot_cost = np.arange(cap, dtype=float)                                        # k-th coachee costs k
        cost = np.repeat(base, cap, axis=1) + np.tile(slot_cost, len(coaches))[None, :]
        cost[~np.repeat(feasible, cap, axis=1)] = 0.0                                  # worse than any real pair
        rows, cols = linear_sum_assignment(cost)
        keep = np.repeat(feasible, cap, axis=1)[rows, cols]
        out.loc[it.index[rows[keep]]] = coaches.to_numpy()[cols[keep] // cap]
    return out


# ----------------------------------------------------------------------------- plans
def plan(data, month: str, rep_id: str | None = None, policy=None, *, scores=None,
         lang: str = "en") -> pd.DataFrame:
    """Individual training plans: the largest credible skill gaps of each rep, with a module,
    a method, a coach (for coaching) and a due date.

    Parameters
    ----------
    data : Dataset
    month : str
        ``YYYY-MM``: the month whose skill scores are used; due dates count from its end.
    rep_id : str, optional
        Only this rep's plan.
    policy : dict, path or None
        The policy; its ``[training]`` table holds the rules above.
    scores : DataFrame, optional
        Skill scores already computed (``rep_id, skill, score, ci_low, ci_high``).
    lang : {"en", "zh"}
        Language of ``module_title``.

    Returns
    -------
    DataFrame
        ``rep_id, priority, skill, gap, module_id, module_title, method, coach_id, due_on``:
        one row per plan item, at most ``top_n`` per rep, priority 1 = largest gap.
        ``method`` is classroom | coaching | online | practice; ``coach_id`` is set for
        coaching only; ``module_id`` is empty when the catalog has no module for the skill.

    Raises
    ------
    ParameterError
        ``rep_id`` is unknown, or is not a planned role, or has no skill scores in the month.
    """
    labels.check_lang(lang)
    parse_month(month)
    full, st = training_settings(policy)
    _check_rep(data, rep_id, st)
    if scores is None and rep_id is None:  # the month's plans from its own skill scores: the
        # training page and the coaching packs ask for the same ones, so they are remembered
        from telesales_lab.analysis.skills import _SKILL_TABLES

        return cached(data, "training_plan", _SKILL_TABLES + ("training_catalog",),
                      lambda: _plan(data, month, full, st, None, None, lang), month=month, policy=full,
                      sections=("skills", "calibration", "training"), params=(lang,))
    return _plan(data, month, full, st, scores, rep_id, lang)


def _plan(data, month, full, st, scores, rep_id, lang) -> pd.DataFrame:
    sc = _scores(data, month, full, scores)
    gaps = _gaps(sc, data.reps, st)
    if rep_id is not None and not gaps["rep_id"].eq(rep_id).any():
        raise ParameterError(f"rep_id == {rep_id!r}: no skill scores for this rep in {month}")
    items = _plan_items(gaps, sc, data.reps, month, st, load_catalog(data), lang)
    if rep_id is not None:
        items = items[items["rep_id"] == rep_id].reset_index(drop=True)
    return items


def _check_rep(data, rep_id, st) -> None:
    if rep_id is None:
        return
    reps = data.reps
    hit = reps["rep_id"].astype("string").eq(rep_id)
    if not hit.any():
        raise ParameterError(f"rep_id == {rep_id!r}: no such rep in {data.files.get('reps', 'reps')}")
    role = str(reps.loc[hit.to_numpy(bool), "role"].iloc[0])
    if role not in st["planned_roles"]:
        raise ParameterError(f"rep_id == {rep_id!r} is a {role}; plans are made for "
                             f"{'|'.join(st['planned_roles'])} ([training] planned_roles)")


def _plan_items(gaps, scores, reps, month, st, catalog, lang) -> pd.DataFrame:
    g = gaps[gaps["has_gap"]].copy()
    order = {s: i for i, s in enumerate(SKILLS)}
    g["_o"] = g["skill"].map(order)
    g = g.sort_values(["rep_id", "gap", "_o"], ascending=[True, False, True], kind="stable")
    g["priority"] = g.groupby("rep_id").cumcount() + 1
    g = g[g["priority"] <= st["top_n"]].drop(columns="_o")

    shared = (g["share_gap"] >= st["classroom_share"]) & (g["n_team_gap"] >= st["classroom_min_reps"])
    method = np.select(
        [shared, g["skill"].isin(st["online_skills"]), g["skill"].isin(st["practice_skills"])],
        ["classroom", "online", "practice"], default="coaching")
    g["method"] = pd.array(method, dtype="string")
    coach = pd.Series(pd.NA, index=g.index, dtype="string")
    g["role"] = g["rep_id"].map(reps.assign(rep_id=reps["rep_id"].astype("string")).drop_duplicates("rep_id")
                                .set_index("rep_id")["role"].astype("string"))
    want = g["method"] == "coaching"
    if want.any():
        coach.loc[want] = _assign_coaches(g[want], scores, coach_pool(reps, month, st), st)
    g["coach_id"] = coach
    # no coach free or strong enough: role-play practice instead
    g.loc[want & g["coach_id"].isna(), "method"] = "practice"

    g = g.merge(_module_lookup(catalog, lang), on=["skill", "method"], how="left")
    weeks = np.asarray(st["due_weeks"], dtype=float)
    pr = g["priority"].to_numpy(int)
    w = np.where(pr <= len(weeks), weeks[np.minimum(pr, len(weeks)) - 1],
                 weeks[-1] + 2.0 * (pr - len(weeks)))
    g["due_on"] = (_month_end(month) + pd.to_timedelta(w * 7, unit="D")).normalize()
    out = g[PLAN_COLUMNS].copy()
    out["priority"] = out["priority"].astype("int64")
    out["gap"] = out["gap"].astype("float64")
    for col in ("rep_id", "skill", "module_id", "module_title", "method", "coach_id"):
        out[col] = out[col].astype("string")
    out["due_on"] = out["due_on"].astype("datetime64[ns]")
    return out.sort_values(["rep_id", "priority"], kind="stable").reset_index(drop=True)


def team_plan(data, month: str, policy=None, *, scores=None, lang: str = "en") -> pd.DataFrame:
    """Team-wide gaps: per team and skill, how many planned reps have a credible gap.

    Returns
    -------
    DataFrame
        ``team, skill, n_reps, n_gap, share_gap, mean_score, mean_gap, classroom,
        module_id, module_title`` -- one row per team and skill. ``mean_gap`` is over the
        reps with a gap (0 if none); ``classroom`` is True where the share reaches
        ``classroom_share`` (and ``classroom_min_reps``); the module is the skill's
        classroom module.
    """
    labels.check_lang(lang)
    parse_month(month)
    full, st = training_settings(policy)
    gaps = _gaps(_scores(data, month, full, scores), data.reps, st)
    return _team_table(gaps, st, load_catalog(data), lang)


def _team_table(gaps, st, catalog, lang) -> pd.DataFrame:
    g = gaps.assign(_gap=gaps["gap"].where(gaps["has_gap"]))
    t = g.groupby(["team", "skill"], sort=False).agg(
        n_reps=("rep_id", "size"), n_gap=("has_gap", "sum"), mean_score=("score", "mean"),
        mean_gap=("_gap", "mean")).reset_index()
    t["n_gap"] = t["n_gap"].astype("int64")
    t["share_gap"] = t["n_gap"] / t["n_reps"]
    t["mean_score"] = t["mean_score"].round(1)
    t["mean_gap"] = t["mean_gap"].fillna(0.0).round(1)
    t["classroom"] = (t["share_gap"] >= st["classroom_share"]) & (t["n_gap"] >= st["classroom_min_reps"])
    mods = _module_lookup(catalog, lang)
    mods = mods[mods["method"] == "classroom"].drop(columns="method")
    t = t.merge(mods, on="skill", how="left")
    t["_o"] = t["skill"].map({s: i for i, s in enumerate(SKILLS)})
    t = t.sort_values(["team", "_o"], kind="stable").drop(columns="_o")
    return t[["team", "skill", "n_reps", "n_gap", "share_gap", "mean_score", "mean_gap", "classroom",
              "module_id", "module_title"]].reset_index(drop=True)


def coach_load(data, month: str, policy=None, *, scores=None, plan_frame=None) -> pd.DataFrame:
    """How many coachees each possible coach takes in the month's plans.

    Parameters
    ----------
    plan_frame : DataFrame, optional
        The month's :func:`plan` for everyone, if already computed.

    Returns
    -------
    DataFrame
        ``coach_id, team, role, n_coachees, cap`` -- one row per person in the coach
        pool (team leads and senior reps), busiest first.
    """
    parse_month(month)
    full, st = training_settings(policy)
    if plan_frame is None:
        plan_frame = plan(data, month, policy=policy, scores=scores)
    pool = coach_pool(data.reps, month, st)
    n = plan_frame["coach_id"].dropna().value_counts()
    out = pool[["coach_id", "team", "role"]].copy()
    out["n_coachees"] = out["coach_id"].map(n).fillna(0).astype("int64")
    out["cap"] = int(st["coach_cap"])
    return out.sort_values(["n_coachees", "team", "coach_id"], ascending=[False, True, True],
                           kind="stable").reset_index(drop=True)


def annual_calendar(data, month: str, policy=None, *, scores=None, lang: str = "en") -> pd.DataFrame:
    """A year of classroom sessions, one a month, rotating through the four policy areas.

    The months start after ``month``. Areas take turns, the area with the most reps in
    need first. In each area's month the classroom module for the skill with the largest
    remaining need (reps with a credible gap, over all teams) is chosen; once scheduled,
    that skill's need halves, so later sessions of the area move on to other skills. The
    teams invited are those with a gap in the module's skill. An area in which nobody has a
    credible gap gets no session; when nobody has a gap at all the calendar is empty.

    Returns
    -------
    DataFrame
        ``session_month, area, module_id, module_title, skill, hours, n_reps, n_teams,
        teams, mean_gap`` -- one row per session. ``session_month`` is ``YYYY-MM``;
        ``n_reps`` reps have a credible gap in the skill now; ``teams`` lists the invited
        teams, most reps in need first, separated by ``"; "``.
    """
    labels.check_lang(lang)
    p = parse_month(month)
    full, st = training_settings(policy)
    gaps = _gaps(_scores(data, month, full, scores), data.reps, st)
    catalog = load_catalog(data)
    return _calendar(gaps, catalog, p, st, lang)


def _calendar(gaps, catalog, p, st, lang) -> pd.DataFrame:
    cat = catalog[catalog["area"].notna()].copy()
    cat["_cls"] = cat["method"].ne("classroom").astype(int)
    cat = cat.sort_values(["area", "skill", "_cls", "module_id"], kind="stable").drop_duplicates(["area", "skill"])
    g = gaps[gaps["has_gap"]]
    per_skill = g.groupby("skill").agg(n_reps=("rep_id", "size"), mean_gap=("gap", "mean"))
    per_team = g.groupby(["skill", "team"]).size().rename("n").reset_index()
    per_team = per_team.sort_values(["skill", "n", "team"], ascending=[True, False, True], kind="stable")
    teams_of = per_team.groupby("skill")["team"].agg(lambda s: "; ".join(s))  # a few skills, not rows
    cat["n_reps"] = cat["skill"].map(per_skill["n_reps"]).fillna(0).astype("int64")
    cat["mean_gap"] = cat["skill"].map(per_skill["mean_gap"]).fillna(0.0).round(1)
    cat["teams"] = cat["skill"].map(teams_of.astype(object)).astype("string").fillna("")
    cat["n_teams"] = cat["skill"].map(per_team.groupby("skill").size()).fillna(0).astype("int64")
    need_by_area = cat.groupby("area")["n_reps"].sum()
    # an area nobody needs gets no session (no gap at all: an empty calendar, not twelve empty rooms)
    areas = [a for a in TRAINING_AREAS if need_by_area.get(a, 0) > 0]
    areas.sort(key=lambda a: -need_by_area[a])  # stable: policy order breaks ties
    if not areas:
        return pd.DataFrame(columns=["session_month", "area", "module_id", "module_title", "skill", "hours",
                                     "n_reps", "n_teams", "teams", "mean_gap"])
    need = cat.set_index("module_id")["n_reps"].astype(float).to_dict()
    rows = []
    for i in range(st["calendar_months"]):  # twelve sessions, not rows of data
        area = areas[i % len(areas)]
        mods = cat[cat["area"] == area]
        row = mods.loc[mods["module_id"].map(need).idxmax()]  # first of the most needed
        need[row["module_id"]] *= 0.5
        title = row["title_zh"] if lang == "zh" else row["title"]
        rows.append({"session_month": str(p + 1 + i), "area": area, "module_id": row["module_id"],
                     "module_title": title, "skill": row["skill"], "hours": float(row["hours"]),
                     "n_reps": int(row["n_reps"]), "n_teams": int(row["n_teams"]), "teams": row["teams"],
                     "mean_gap": float(row["mean_gap"])})
    out = pd.DataFrame(rows)
    for col in ("session_month", "area", "module_id", "module_title", "skill", "teams"):
        out[col] = out[col].astype("string")
    return out


def plans_by_team(data, plan_frame: pd.DataFrame) -> pd.DataFrame:
    """The plan with each rep's team in front, sorted by team, rep and priority.

    Returns
    -------
    DataFrame
        ``team`` followed by the :func:`plan` columns.
    """
    team = data.reps.assign(rep_id=data.reps["rep_id"].astype("string")).set_index("rep_id")["team"]
    out = plan_frame.copy()
    out.insert(0, "team", out["rep_id"].map(team).astype("string"))
    return out.sort_values(["team", "rep_id", "priority"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- career path
def career_readiness(data, month: str, policy=None, *, lang: str = "en") -> pd.DataFrame:
    """Readiness for the next step of the career path (rep -> team lead -> supervisor).

    The rules and the verdict come from :func:`telesales_lab.analysis.evaluation.promotion_readiness`
    (``[promotion.*]`` of the policy); this adds what is still missing and, where the
    skills fall short, a coaching module for the weakest skill.

    Returns
    -------
    DataFrame
        ``rep_id, team, role, next_role, ready, tenure_months, grade, grade_streak,
        min_skill, weakest_skill, missing, module_id, module_title`` -- one row per rep and
        team lead evaluated, ready first. ``missing`` lists ``tenure``, ``grades`` and
        ``skills`` (``"; "``-separated) for the rules not met, empty when ready.
    """
    from telesales_lab.analysis.evaluation import promotion_readiness

    labels.check_lang(lang)
    full, _ = training_settings(policy)
    r = promotion_readiness(data, month, full)
    parts = np.column_stack([np.where(~r[c].to_numpy(bool), w, "")
                             for c, w in (("meets_tenure", "tenure"), ("meets_grades", "grades"),
                                          ("meets_skills", "skills"))])
    r["missing"] = pd.array(["; ".join(x for x in row if x) for row in parts], dtype="string")  # ~100 rows
    mods = _module_lookup(load_catalog(data), lang)
    mods = mods[mods["method"] == "coaching"].drop(columns="method")
    r = r.merge(mods.rename(columns={"skill": "weakest_skill"}), on="weakest_skill", how="left")
    r.loc[r["meets_skills"].to_numpy(bool), ["module_id", "module_title"]] = pd.NA
    cols = ["rep_id", "team", "role", "next_role", "ready", "tenure_months", "grade", "grade_streak",
            "min_skill", "weakest_skill", "missing", "module_id", "module_title"]
    return r[cols].reset_index(drop=True)


# ----------------------------------------------------------------------------- training effect
def training_effect(data, module_id: str | None = None, policy=None) -> pd.DataFrame:
    """Effect of each training module on the assessment scores of its skill.

    Difference in differences with regression adjustment: for each skill, the scores of
    its assessments are regressed on one indicator per module of that skill (1 from the
    rep's completion date on), with rep and month fixed effects::

        score ~ sum_m effect_m * trained_m,after + rep + month

    The trained reps of a module are those who completed it; the controls are reps of
    the same roles with no record (complete or not) of any module of that skill, so a
    rival module's effect does not leak into the comparison. Reps who only started a
    module of the skill are left out. Standard errors are cluster-robust by rep, with a
    t distribution on (reps - 1) degrees of freedom.

    Parameters
    ----------
    data : Dataset
        Needs ``assessments``; without a ``training_log`` table the result is empty.
    module_id : str, optional
        Only this module.
    policy : dict, path or None
        ``[training] effect_level`` sets the confidence level (default 0.95).

    Returns
    -------
    DataFrame
        ``module_id, skill, effect, ci_low, ci_high, p_value, n_trained, n_control,
        n_assessments`` -- one row per module in the training log (or the catalog's
        module given). ``effect`` is in score points (0-100 scale); NaN where it cannot be
        estimated (no catalog entry, no trained rep assessed both before and after, or no
        control). ``n_trained`` counts the trained reps assessed both before and after
        their training (those who identify the effect); ``ci_low``, ``ci_high`` and
        ``p_value`` are NaN when it is below ``[training] effect_min_trained`` (default 5),
        as cluster-robust errors with so few treated reps are far too narrow.
        ``n_control`` counts the control reps; ``n_assessments`` the regression's rows.

    Raises
    ------
    ParameterError
        ``module_id`` is neither in the catalog nor in the training log.
    """
    _, st = training_settings(policy)
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        EFFECT_COLUMNS, ["string", "string", "float64", "float64", "float64", "float64", "int64", "int64",
                         "int64"])})
    catalog = load_catalog(data)
    if not data.has("training_log"):
        if module_id is not None and not catalog["module_id"].eq(module_id).any():
            raise ParameterError(f"module_id == {module_id!r}: not in the training catalog")
        return empty
    log = data.training_log.astype({"rep_id": "string", "module_id": "string"})
    known = pd.Index(log["module_id"].dropna().unique()).union(pd.Index(catalog["module_id"]))
    if module_id is not None and module_id not in known:
        raise ParameterError(f"module_id == {module_id!r}: not in the training catalog or the training log")
    modules = pd.Index(sorted(log["module_id"].dropna().unique()) if module_id is None else [module_id])
    skill_of = catalog.set_index("module_id")["skill"]
    roles = data.reps.set_index("rep_id")["role"].astype("string")
    ass = data.assessments
    ass = pd.DataFrame({"rep_id": ass["rep_id"].astype("string"), "skill": ass["skill"].astype("string"),
                        "on": ass["assessed_on"], "score": ass["score"].astype(float)}).dropna()
    rows = []
    for skill in SKILLS:  # at most seven regressions
        mods = [m for m in modules if skill_of.get(m) == skill]
        if mods:
            all_of_skill = skill_of.index[skill_of == skill]
            rows += _effects_for_skill(ass[ass["skill"] == skill], log, mods, list(all_of_skill), roles,
                                       st, skill)
    unknown = [m for m in modules if m not in skill_of.index]
    rows += [{"module_id": m, "skill": pd.NA, "effect": np.nan, "ci_low": np.nan, "ci_high": np.nan,
              "p_value": np.nan, "n_trained": 0, "n_control": 0, "n_assessments": 0} for m in unknown]
    if not rows:
        return empty
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    out = out.astype({"module_id": "string", "skill": "string", "n_trained": "int64", "n_control": "int64",
                      "n_assessments": "int64"})
    return out.sort_values("module_id", kind="stable").reset_index(drop=True)


def _ols_cluster(y: np.ndarray, X: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with cluster-robust standard errors: ``(params, bse)``.

    The arithmetic of statsmodels' ``OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups":
    groups})`` step by step (pseudo-inverse by SVD with singular values below 1e-15 of the
    largest dropped; sandwich ``(X'X)^-1 S (X'X)^-1`` with ``S`` the cross-product of the
    per-cluster score sums; small-sample factor ``G/(G-1) * (n-1)/(n-k)``), so the numbers
    are the same without importing statsmodels. ``groups``: cluster codes 0..G-1.
    """
    u, sv, vt = np.linalg.svd(X, False)
    cutoff = 1e-15 * np.maximum.reduce(sv)
    inv_sv = np.where(sv > cutoff, 1.0 / np.where(sv > cutoff, sv, 1.0), 0.0)
    pinv = np.dot(np.transpose(vt), np.multiply(inv_sv[:, np.newaxis], np.transpose(u)))
    bread = np.dot(pinv, np.transpose(pinv))
    params = np.dot(pinv, y)
    scores = X * (y - np.dot(X, params))[:, None]
    sums = np.array([np.bincount(groups, weights=scores[:, col]) for col in range(scores.shape[1])]).T
    meat = np.dot(sums.T, sums)
    cov = np.dot(np.dot(bread, meat), bread.T)
    n_groups = len(np.unique(groups))
    nobs, k = scores.shape
    cov *= n_groups / (n_groups - 1.0) * ((nobs - 1.0) / float(nobs - k))
    return params, np.sqrt(np.diag(cov))


def _effects_for_skill(ass, log, mods, all_mods, roles, st, skill) -> list[dict]:
    from scipy import special  # Student t quantile and tail, as scipy.stats.t evaluates them

    of_skill = log[log["module_id"].isin(all_mods)]
    done = of_skill[of_skill["completed"].fillna(False).to_numpy(bool)]
    first = done.groupby(["rep_id", "module_id"])["date"].min()
    trained = pd.Index(first.index.get_level_values("rep_id").unique())
    touched = pd.Index(of_skill["rep_id"].unique())
    trained_roles = set(roles.reindex(trained).dropna())
    control = pd.Index(roles.index[roles.isin(trained_roles)]).difference(touched)
    sample = ass[ass["rep_id"].isin(trained.union(control))].reset_index(drop=True)

    # one "after training" column per module of the skill that anyone completed
    est_mods = sorted(set(first.index.get_level_values("module_id")))
    post = np.zeros((len(sample), len(est_mods)))
    for j, m in enumerate(est_mods):  # a few modules, not rows
        when = first.xs(m, level="module_id")
        d = sample["rep_id"].map(when)
        post[:, j] = (d.notna() & (sample["on"] >= d)).to_numpy(float)
    blank = {"effect": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}

    # reps of each module seen both before and after their training: they identify its effect
    n_both, n_in = {}, {}
    for j, m in enumerate(est_mods):
        of_m = sample["rep_id"].isin(first.xs(m, level="module_id").index).to_numpy(bool)
        seen = pd.DataFrame({"rep_id": sample["rep_id"][of_m], "after": post[of_m, j] == 1})
        by_rep = seen.groupby("rep_id")["after"].agg(["min", "max"])
        n_in[m] = len(by_rep)
        n_both[m] = int((by_rep["min"] < by_rep["max"]).sum())
    n_control = int(sample.loc[sample["rep_id"].isin(control), "rep_id"].nunique())
    base = {"skill": skill, "n_control": n_control, "n_assessments": int(len(sample))}
    ident = [m for m in est_mods if n_both[m] > 0] if n_control > 0 else []
    if not ident:
        return [{"module_id": m, **base, "n_trained": n_both.get(m, 0), **blank} for m in mods]
    keep = [est_mods.index(m) for m in ident]
    rep_codes, rep_names = pd.factorize(sample["rep_id"])
    month_codes, _ = pd.factorize(sample["on"].dt.to_period("M"), sort=True)
    Z = np.column_stack([post[:, keep], np.eye(month_codes.max() + 1)[month_codes][:, 1:]])
    y = sample["score"].to_numpy(float)
    # rep fixed effects partialled out (Frisch-Waugh): demean every column within rep;
    # they are nested in the rep clusters, so they do not count against the degrees of freedom
    Zd = Z - pd.DataFrame(Z).groupby(rep_codes).transform("mean").to_numpy()
    yd = y - pd.Series(y).groupby(rep_codes).transform("mean").to_numpy()
    params, bse = _ols_cluster(yd, Zd, rep_codes)
    df = len(rep_names) - 1  # t with clusters - 1 degrees of freedom
    tq = special.stdtrit(df, 0.5 + st["effect_level"] / 2) if df > 0 else np.nan
    rows = []
    for m in mods:
        if m not in ident:
            rows.append({"module_id": m, **base, "n_trained": n_both.get(m, 0), **blank})
            continue
        j = ident.index(m)
        b, se = float(params[j]), float(bse[j])
        row = {"module_id": m, **base, "n_trained": n_both[m], **blank, "effect": b}
        # cluster-robust errors need several treated clusters; with fewer, no interval
        if n_both[m] >= st["effect_min_trained"] and se > 0:
            row.update(ci_low=b - tq * se, ci_high=b + tq * se,
                       p_value=float(2 * special.stdtr(df, -abs(b / se))) if df > 0 else np.nan)
        rows.append(row)
    return rows
