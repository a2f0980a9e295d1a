"""Thin data sets: valid data with optional pieces missing, as real exports have them.

:data:`PIECES` lists what may be there or not; :func:`thin_tables` builds the tables of one
draw (all values as text, like a file), deterministic for its parameters and seed. The tests
draw the pieces with hypothesis (``tests/test_thin_data.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telesales_lab.data.schema import NAME_PLACEHOLDER, OBJECTIONS, SKILLS

#: Each optional piece and the choices drawn for it.
PIECES = {
    "assessments": ("none", "some", "all"),     # none; some skills of some reps; every skill of every rep
    "feedback": ("none", "some"),
    "orders": ("none", "some"),                 # none at all (a call log), or only some sales have one
    "scripts_per_scenario": (1, 2, 3),
    "reps": ("one", "three", "many+placeholder"),
    "months": (1, 2, 6),
    "customers_known": (True, False),           # False: every call's customer is anonymous
    "transcripts": (True, False),
}
END = pd.Period("2026-10", freq="M")


def thin_tables(assessments="none", feedback="none", orders="none", scripts_per_scenario=1, reps="one",
                months=1, customers_known=True, transcripts=False, seed=0, calls_per_rep_month=25
                ) -> dict[str, pd.DataFrame]:
    """The tables of one thin data set (text values), its last month :data:`END`."""
    rng = np.random.default_rng(seed)
    n_reps = {"one": 1, "three": 3, "many+placeholder": 12}[reps]
    rep_ids = [f"R{i + 1:02d}" for i in range(n_reps)]
    teams = ["一组" if i % 2 == 0 else "二组" for i in range(n_reps)]
    roles = ["rep"] * n_reps
    if n_reps >= 3:
        roles[0] = "team_lead"
    rep_rows = {"rep_id": rep_ids, "name": [f"坐席{i}" for i in rep_ids], "team": teams, "role": roles,
                "hired_on": ["2024-01-01"] * n_reps, "is_person": ["true"] * n_reps}
    if reps == "many+placeholder":
        for key, value in (("rep_id", "NO_AGENT"), ("name", "unassigned calls"), ("team", "一组"),
                           ("role", "rep"), ("hired_on", "2020-01-01"), ("is_person", "false")):
            rep_rows[key].append(value)
        rep_rows["rep_id"] += ["SUP"]
        for key, value in (("name", "主管"), ("team", ""), ("role", "supervisor"), ("hired_on", "2015-01-01"),
                           ("is_person", "")):
            rep_rows[key].append(value)
    reps_t = pd.DataFrame(rep_rows)
    callers = [r for r, role in zip(reps_t["rep_id"], reps_t["role"]) if role != "supervisor"]

    scenarios = ["cold_call", "follow_up"]
    scripts = pd.DataFrame([(f"S{s}{k}", f"话术{s}{k}", sc, f"您好 这是 话术 {k} 限时 优惠")
                            for s, sc in enumerate(scenarios) for k in range(scripts_per_scenario)],
                           columns=["script_id", "name", "scenario", "text"])

    periods = [END - i for i in range(months)][::-1]
    n = len(callers) * months * calls_per_rep_month
    month_of = np.repeat(np.arange(months), n // months)
    rep_of = np.tile(np.repeat(np.arange(len(callers)), calls_per_rep_month), months)
    day = rng.integers(1, 28, size=n)
    starts = [f"{periods[m].year}-{periods[m].month:02d}-{d:02d} {9 + h:02d}:{mi:02d}:00"
              for m, d, h, mi in zip(month_of, day, rng.integers(0, 9, n), rng.integers(0, 60, n))]
    outcome = rng.choice(["no_answer", "rejected", "callback", "interested", "sale", "service"], size=n,
                         p=[0.35, 0.3, 0.1, 0.1, 0.1, 0.05])
    objection = np.where((outcome != "no_answer") & (rng.random(n) < 0.3), rng.choice(OBJECTIONS, n), "")
    script_of = rng.choice(scripts["script_id"], size=n)
    if customers_known:
        customer_ids = [f"K{i}" for i in range(max(5, n // 4))]
        cust = rng.choice(customer_ids, size=n)
        customers = pd.DataFrame({"customer_id": customer_ids, "name": [f"客户{i}" for i in range(len(customer_ids))],
                                  "phone": [f"139{i:08d}" for i in range(len(customer_ids))],
                                  "acquired_on": "2024-06-01", "region": "上海"})
    else:  # one anonymous customer per call, as an import with fallback = { id = "row" } makes
        cust = np.array([f"anon-{i + 1}" for i in range(n)])
        customers = pd.DataFrame({"customer_id": cust, "name": NAME_PLACEHOLDER, "phone": "N/A",
                                  "acquired_on": [s[:10] for s in starts]})
    calls = pd.DataFrame({
        "call_id": [f"C{i + 1}" for i in range(n)], "rep_id": np.asarray(callers)[rep_of], "customer_id": cust,
        "script_id": script_of, "started_at": starts,
        "duration_s": np.where(outcome == "no_answer", 0, rng.integers(30, 600, n)).astype(str),
        "outcome": outcome, "objection": objection,
    })
    if transcripts:
        calls["transcript"] = np.where(outcome != "no_answer", "坐席：您好 限时 优惠 客户：价格 太 贵", "")

    sale = np.flatnonzero(outcome == "sale")
    if orders == "some":
        sale = sale[rng.random(len(sale)) < 0.6]
    else:
        sale = sale[:0]
    orders_t = pd.DataFrame({
        "order_id": [f"O{i}" for i in range(len(sale))], "customer_id": calls["customer_id"].iloc[sale].to_numpy(),
        "rep_id": calls["rep_id"].iloc[sale].to_numpy(), "ordered_at": calls["started_at"].iloc[sale].to_numpy(),
        "amount": rng.integers(500, 5000, len(sale)).astype(str), "profit": rng.integers(50, 900, len(sale)).astype(str),
        "status": rng.choice(["signed", "paid", "cancelled"], len(sale), p=[0.5, 0.4, 0.1]),
        "call_id": calls["call_id"].iloc[sale].to_numpy(),
    })

    connected = np.flatnonzero(outcome != "no_answer")
    fb = connected[rng.random(len(connected)) < 0.2] if feedback == "some" else connected[:0]
    feedback_t = pd.DataFrame({
        "feedback_id": [f"F{i}" for i in range(len(fb))], "customer_id": calls["customer_id"].iloc[fb].to_numpy(),
        "rep_id": calls["rep_id"].iloc[fb].to_numpy(), "received_at": calls["started_at"].iloc[fb].to_numpy(),
        "score": rng.integers(1, 6, len(fb)).astype(str), "complaint": np.where(rng.random(len(fb)) < 0.1, "true", "false"),
        "call_id": calls["call_id"].iloc[fb].to_numpy(), "resolved_at": "",
    })

    people = [r for r, ok in zip(reps_t["rep_id"], reps_t["is_person"]) if ok != "false"]
    rows = []
    if assessments != "none":
        skills = SKILLS if assessments == "all" else SKILLS[:3]
        who = people if assessments == "all" else people[: max(1, len(people) // 2)]
        for p in periods:
            for r in who:
                for s in skills:
                    rows.append((r, f"{p.year}-{p.month:02d}-15", s, str(int(rng.integers(35, 95))),
                                 people[-1] if people[-1] != r else people[0]))
    assessments_t = pd.DataFrame(rows, columns=["rep_id", "assessed_on", "skill", "score", "assessor_id"])
    return {"reps": reps_t, "customers": customers, "scripts": scripts, "calls": calls, "orders": orders_t,
            "feedback": feedback_t, "assessments": assessments_t}
