"""Coaching packs: one rep's own data and team aggregates only, the same in the notebook and
in the fanned-out HTML pages, with numbers pinned to counts made by hand from the calls."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from telesales_lab.analysis import coaching, training
from telesales_lab.exceptions import ParameterError
from telesales_lab.data.load import load_dataset
from telesales_lab.data.periods import in_month
from telesales_lab.data.schema import OUTCOMES, POSITIVE_OUTCOMES
from telesales_lab.present import coaching_page

REPS_ONLY = {"training": {"planned_roles": ["rep"]}}  # the policy option: coach reps only
MONTH = "2026-10"
ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def demo(demo_folder):
    folder, truth = demo_folder(n_calls=20_000, n_customers=1_000)
    return folder, load_dataset(folder, cache=False), truth


@pytest.fixture(scope="module")
def month_calls(demo):
    calls = demo[1].calls
    return calls[in_month(calls["started_at"], MONTH).to_numpy(bool)].astype({"rep_id": str, "call_id": str})


@pytest.fixture(scope="module")
def rep(demo):
    """A planted weak-skill rep: has a plan, so every section is filled."""
    return next(iter(demo[2]["weak_skills"]))


@pytest.fixture(scope="module")
def pack(demo, rep):
    return coaching.coaching_pack(demo[1], MONTH, rep)


@pytest.fixture(scope="module")
def pages(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("packs")
    seen = []
    paths = coaching_page.build_packs(demo[1], MONTH, out, progress=lambda i, n, r: seen.append((i, n, r)))
    return out, paths, seen


# ----------------------------------------------------------------------------- one pack
def test_pack_has_every_section_with_its_columns(pack, rep):
    cols = {
        "funnel": ["stage", "rep_value", "team_average"],
        "kpis": ["metric", "rep_value", "team_average", "difference"],
        "skills": ["skill", "score", "ci_low", "ci_high", "team_mean", "target", "gap"],
        "best_calls": coaching._CALL_COLUMNS,
        "worst_calls": coaching._CALL_COLUMNS,
        "role_plays": ["skill", "scenario", "script_id", "script_name", "objection", "times_met", "exercise"],
        "plan": training.PLAN_COLUMNS,
        "goals": ["metric", "current", "target", "due_on", "action"],
    }
    for section, want in cols.items():
        assert list(pack[section].columns) == want, section
        assert len(pack[section]) > 0, section
    assert pack["rep_id"] == rep and rep in pack["summary"]


def test_funnel_and_team_averages_match_hand_counts(demo, month_calls, pack, rep):
    c = month_calls
    outcome = c["outcome"].astype(str)
    c = c.assign(connected=outcome != "no_answer", positive=outcome.isin(POSITIVE_OUTCOMES), sale=outcome == "sale")
    per_rep = c.groupby("rep_id")[["connected", "positive", "sale"]].sum()
    per_rep["dials"] = c.groupby("rep_id").size()
    reps = demo[1].reps.astype({"rep_id": str, "team": str, "role": str}).set_index("rep_id")
    team = reps.loc[rep, "team"]
    # the team's planned people: reps and, by default, its team lead
    peers = [r for r in per_rep.index if reps.loc[r, "team"] == team and reps.loc[r, "role"] in ("rep", "team_lead")]
    f = pack["funnel"].set_index("stage")
    for stage, col in (("dials", "dials"), ("connected", "connected"), ("positive", "positive"), ("sales", "sale")):
        assert f.loc[stage, "rep_value"] == per_rep.loc[rep, col]
        assert f.loc[stage, "team_average"] == pytest.approx(per_rep.loc[peers, col].mean())
    k = pack["kpis"].set_index("metric")
    assert k.loc["conversion_rate", "rep_value"] == pytest.approx(per_rep.loc[rep, "sale"] / per_rep.loc[rep, "connected"])
    pooled = per_rep.loc[peers, "sale"].sum() / per_rep.loc[peers, "connected"].sum()
    assert k.loc["conversion_rate", "team_average"] == pytest.approx(pooled)
    mine = c[c["rep_id"] == rep]
    objected = mine[mine["objection"].notna()]
    assert k.loc["objection_save_rate", "rep_value"] == pytest.approx(objected["positive"].mean())
    assert k.loc["aht_s", "rep_value"] == pytest.approx(mine.loc[mine["connected"], "duration_s"].mean())


def test_best_and_worst_calls_are_the_reps_own_connected_calls(month_calls, pack, rep):
    mine = month_calls[month_calls["rep_id"] == rep].set_index("call_id")
    best, worst = pack["best_calls"], pack["worst_calls"]
    assert 1 <= len(best) <= coaching.N_CALLS and len(worst) == coaching.N_CALLS
    # best calls are sales when the rep made one (else the best positive outcomes), never a loss
    sales = int(mine["outcome"].astype(str).eq("sale").sum())
    if sales:
        assert best["outcome"].astype(str).eq("sale").all() and len(best) == min(sales, coaching.N_CALLS)
    else:
        assert best["outcome"].astype(str).isin(["callback", "interested"]).all()
    assert set(best["call_id"]) | set(worst["call_id"]) <= set(mine.index)
    assert not set(best["call_id"]) & set(worst["call_id"])
    rank = {o: i for i, o in enumerate(OUTCOMES)}
    b = best["outcome"].astype(str).map(rank).to_numpy()
    w = worst["outcome"].astype(str).map(rank).to_numpy()
    assert (np.diff(b) <= 0).all() and (np.diff(w) >= 0).all()
    assert (w >= rank["rejected"]).all()  # connected calls only
    # the best call is the rep's top outcome; no worse call of the rep is missing from "worst"
    top = mine["outcome"].astype(str).map(rank)
    assert b[0] == top.max()
    assert w[0] == top[top > 0].drop(best["call_id"]).min()
    # no customer data in the call lists
    assert "customer_id" not in best.columns and "transcript" not in best.columns


def test_role_plays_use_the_reps_scripts_and_objections(month_calls, pack, rep):
    mine = month_calls[month_calls["rep_id"] == rep]
    rp = pack["role_plays"]
    assert list(rp["skill"]) == list(pack["plan"]["skill"])
    assert set(rp["script_id"]) <= set(mine["script_id"].astype(str))
    assert set(rp["objection"].dropna()) <= set(mine["objection"].dropna().astype(str))
    counts = mine["objection"].astype("string").value_counts()
    assert (rp["times_met"].to_numpy() == counts.reindex(rp["objection"]).to_numpy()).all()
    assert rp["exercise"].str.len().gt(40).all()


def test_goals_close_half_the_gap_to_the_team(pack):
    g = pack["goals"].set_index("metric")
    k = pack["kpis"].set_index("metric")
    for m in coaching.GOAL_KPIS:
        rep_v, team_v = k.loc[m, "rep_value"], k.loc[m, "team_average"]
        want = rep_v + (team_v - rep_v) / 2 if rep_v < team_v else rep_v
        assert g.loc[m, "target"] == pytest.approx(want)
    first = pack["plan"].iloc[0]
    assert g.loc[first["skill"], "due_on"] == first["due_on"]


def test_unknown_or_inactive_rep_is_refused(demo):
    with pytest.raises(ParameterError, match=r"rep_id == 'R999': no such rep"):
        coaching.coaching_pack(demo[1], MONTH, "R999")
    lead = demo[2]["team_lead_ids"][0]
    with pytest.raises(ParameterError, match=rf"rep_id == '{lead}' \(team_lead\) has no coaching pack"):
        coaching.coaching_pack(demo[1], MONTH, lead, policy=REPS_ONLY)
    assert coaching.coaching_pack(demo[1], MONTH, lead)["rep_id"] == lead  # leads who call: coached by default
    with pytest.raises(ParameterError, match=r"section == 'nope'"):
        coaching_page.table({"lang": "en"}, "nope")


# ----------------------------------------------------------------------------- fan-out
def test_build_packs_writes_one_page_per_active_rep(demo, month_calls, pages):
    out, paths, seen = pages
    reps = demo[1].reps.astype({"rep_id": str, "role": str})
    active = sorted(set(month_calls["rep_id"]) & set(reps.loc[reps["role"].isin(["rep", "team_lead"]), "rep_id"]))
    assert [p.name for p in paths] == [f"{r}.html" for r in active]
    assert all(p.parent == out and p.stat().st_size > 0 for p in paths)
    assert seen == [(i, len(active), r) for i, r in enumerate(active, 1)]
    assert not list(out.glob(".*"))  # no temporary files left


def test_packs_written_in_place_are_the_same_pages(demo, pages, tmp_path):
    """The report writes its packs in place (its folder is swapped in whole): same files, same
    bytes, nothing else left in the folder."""
    out, paths, _ = pages
    rep_ids = [p.stem for p in paths[:3]]  # pages are named <rep_id>.html
    in_place = coaching_page.build_packs(demo[1], MONTH, tmp_path, rep_ids=rep_ids, atomic=False)
    assert [p.name for p in in_place] == [p.name for p in paths[:3]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in in_place)
    assert all(p.read_bytes() == (out / p.name).read_bytes() for p in in_place)


def test_pages_hold_no_other_reps_call_ids(demo, pages):
    calls = demo[1].calls
    owner = pd.Series(calls["rep_id"].astype(str).to_numpy(), index=calls["call_id"].astype(str).to_numpy())
    customers = set(demo[1].customers["customer_id"].astype(str))
    # the only customer ids on a page are those of the rep's own open collections (ids only)
    from telesales_lab.analysis.payments import collections

    open_ = collections(demo[1], MONTH)
    chase = {r: set(g.astype(str)) for r, g in open_.groupby("rep_id")["customer_id"]}
    for path in pages[1]:  # one page per rep
        rep = path.stem
        tokens = pd.Index(set(TOKEN.findall(path.read_text(encoding="utf-8"))))
        found = owner.reindex(tokens.intersection(owner.index))
        in_month = (calls["started_at"] >= "2026-10-01") & (calls["started_at"] < "2026-11-01")
        own = int(((calls["rep_id"].astype(str) == rep) & in_month & (calls["outcome"] != "no_answer")).sum())
        # best calls are sales only
        assert len(found) >= min(coaching.N_CALLS + 1, own) or rep == demo[2]["newcomer_rep_id"], rep
        assert set(found) <= {rep}, (rep, found[found != rep].head())
        assert set(tokens.intersection(customers)) <= chase.get(rep, set()), rep


def test_pages_hold_no_customer_names_or_phones(demo, pages):
    from telesales_lab.data.privacy import scan_outputs

    assert scan_outputs(pages[0], demo[1]) == []
    text = "".join(p.read_text(encoding="utf-8") for p in pages[1])
    phones = set(demo[1].customers["phone"].astype(str))
    assert not set(re.findall(r"\d{11}", text)) & phones


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fanned_out_page_is_the_single_pack_page(demo, rep, tmp_path, lang):
    path, = coaching_page.build_packs(demo[1], MONTH, tmp_path, lang=lang, rep_ids=[rep])
    one = coaching_page.render_html(coaching.coaching_pack(demo[1], MONTH, rep, lang=lang))
    assert path.read_text(encoding="utf-8") == one
    if lang == "zh":
        assert "异议处理" in one or "促成" in one or "倾听" in one or "提问" in one or "产品知识" in one


def test_rep_ids_must_be_active(demo, tmp_path):
    lead = demo[2]["team_lead_ids"][0]
    with pytest.raises(ParameterError, match=rf"rep_id == '{lead}'"):
        coaching_page.build_packs(demo[1], MONTH, tmp_path, rep_ids=[lead], policy=REPS_ONLY)
    assert not list(tmp_path.iterdir())


def test_chart_labels_are_escaped_text_in_the_page_fonts():
    chart = coaching_page._bar_chart(["<b>&", "技能"], [("a<", [1.0, 2.0], "#000")], title="t&t")
    assert chart.startswith("<svg") and chart.endswith("</svg>")
    assert "<b>" not in chart and "<title>t&amp;t</title>" in chart and "a&lt;" in chart
    assert ">&lt;b&gt;&amp;</text>" in chart and ">技能</text>" in chart  # labels are text, a few bytes each
    assert "Noto Sans CJK SC" in chart  # the bundled CJK font first, as on the rest of the page
    assert len(chart) < 3000
    assert coaching_page._nice_top(179.6) == (200.0, 50.0)  # raw step 35.9 -> 50
    assert coaching_page._nice_top(7.0) == (8.0, 2.0)  # raw step 1.4 -> 2


# ----------------------------------------------------------------------------- the notebook
@pytest.mark.slow
def test_coaching_notebook_shows_the_same_content_as_the_page(demo, rep, tmp_path):
    import papermill as pm

    out = tmp_path / "05.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "05_coaching_session.ipynb"), str(out),
                        parameters={"data_dir": str(demo[0]), "month": MONTH, "rep_id": rep, "lang": "en"},
                        cwd=str(ROOT / "notebooks"), progress_bar=False, kernel_name="python3")
    nb = json.loads(out.read_text(encoding="utf-8"))
    shown = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            shown.append("".join(o.get("text", "")))
            for kind in ("text/html", "image/svg+xml", "text/markdown"):
                shown.append("".join(o.get("data", {}).get(kind, "")))
    shown = "\n".join(shown)
    page = coaching_page.render_html(coaching.coaching_pack(demo[1], MONTH, rep))
    pack = coaching.coaching_pack(demo[1], MONTH, rep)
    assert pack["summary"] in shown and pack["summary"] in page
    assert coaching_page.plot_skills(pack) in shown and coaching_page.plot_skills(pack) in page
    assert coaching_page.plot_funnel(pack) in shown and coaching_page.plot_funnel(pack) in page
    calls = set(demo[1].calls["call_id"].astype(str))
    in_nb = set(TOKEN.findall(shown)) & calls
    in_page = set(TOKEN.findall(page)) & calls
    assert in_nb == in_page == set(pack["best_calls"]["call_id"]) | set(pack["worst_calls"]["call_id"])
    for section in coaching.SECTIONS:  # every displayed value is on the page too
        values = set(coaching_page.table(pack, section).to_numpy().ravel()) - {""}
        missing = [v for v in values if v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                   .replace('"', "&quot;") not in page]
        assert not missing, (section, missing[:3])


def test_empty_sections_say_so_in_words_never_none(demo):
    """A rep without a plan sees "nothing this month" (a Jinja variable named ``none`` printed None)."""
    from telesales_lab.present import coaching_page

    for lang in ("en", "zh"):
        data = demo[1]
        for rep_id in coaching.active_reps(data, MONTH)[:8]:
            page = coaching_page.render_html(coaching.coaching_pack(data, MONTH, rep_id, lang=lang))
            assert ">None<" not in page and "None" not in re.sub(r"<style.*?</style>", "", page, flags=re.S)


@pytest.mark.parametrize("seed", range(5))
def test_first_calls_per_rep_are_the_sorted_heads(seed):
    """Each rep's first calls by rep, keys, then call id: the same rows, in the same order, as
    sorting the whole frame and taking each rep's head, with many ties (missing values tie
    too) for the call ids to break."""
    rng = np.random.default_rng(seed)
    m = 300
    frame = pd.DataFrame({
        "rep_id": pd.array(rng.choice(["R10", "R2", "R07", "甲"] + [f"R{i}" for i in range(20, 40)], m), dtype="string"),
        "call_id": pd.array([f"C{v}" for v in rng.permutation(m * 7)[:m]], dtype="string"),
        "k1": rng.integers(0, 3, m).astype(float),
        "k2": np.where(rng.random(m) < 0.6, np.nan, rng.integers(0, 2, m).astype(float)),
        "k3": -rng.integers(0, 2, m).astype(float),
    })
    n = int(rng.integers(1, 8))
    want = (frame.sort_values(["rep_id", "k1", "k2", "k3", "call_id"], kind="stable")
            .groupby("rep_id", sort=False).head(n).index.to_numpy())
    rep, _ = pd.factorize(frame["rep_id"], sort=True)
    got = coaching._first_per_rep(frame["call_id"], rep, [frame[k].to_numpy() for k in ("k1", "k2", "k3")], n)
    assert got.tolist() == want.tolist()
    assert coaching._first_per_rep(frame["call_id"].iloc[:0], rep[:0], [np.zeros(0)], n).tolist() == []
