"""Write ``dialer_export_zh.csv``: a small, made-up export of a Chinese dialer system.

Run from the repository root::

    .venv/bin/python data/examples/make_dialer_export_zh.py

The output is deterministic (fixed seed): running it again gives the same bytes, which
the importer tests check. Every name is a random pairing of common surnames and given
names, and every phone number starts with ``100``, which is not a Chinese mobile range,
so none of them is a real person's. The file is GB18030-encoded with Chinese headers,
as such exports often are; ``data/mappings/dialer_zh.toml`` imports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 2026
N_CALLS = 200
OUT = Path(__file__).with_name("dialer_export_zh.csv")

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高")
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛",
         "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "晓燕", "志强"]
REPS = [("A01", "电销一组"), ("A02", "电销一组"), ("A03", "电销一组"),
        ("B01", "电销二组"), ("B02", "电销二组"), ("B03", "电销二组")]
CITIES = ["上海", "杭州", "南京", "苏州", "宁波", "合肥"]
SCRIPTS = {"开场白A-限时优惠": 0.0, "开场白B-需求挖掘": 0.4, "回访话术": 0.8}
OUTCOMES = ["未接通", "拒绝", "约回访", "有意向", "成交"]
OBJECTIONS = ["价格", "时机", "无需求", "竞品", "信任", "决策权"]
REMARKS = {"未接通": ["无人接听", "关机", "占线", ""], "拒绝": ["客户挂断", "已有同类产品", ""],
           "约回访": ["周末再联系", "下周回电", ""], "有意向": ["发送资料", "需与家人商量", ""],
           "成交": ["已签约", "微信付款", ""]}


def _names(rng: np.random.Generator, n: int) -> list[str]:
    return [rng.choice(SURNAMES) + rng.choice(GIVEN) for _ in range(n)]


def make_export(seed: int = SEED, n_calls: int = N_CALLS) -> pd.DataFrame:
    """The made-up dialer export as a frame of text, in call order."""
    rng = np.random.default_rng(seed)
    rep_names = dict(zip([r[0] for r in REPS], _names(rng, len(REPS))))
    n_customers = 120
    customers = pd.DataFrame({
        "客户编号": [f"KH{i:04d}" for i in range(1, n_customers + 1)],
        "客户姓名": _names(rng, n_customers),
        "手机号": [f"100{n:08d}" for n in rng.choice(10**8, n_customers, replace=False)],
        "所在城市": rng.choice(CITIES, n_customers),
    })
    days = pd.date_range("2026-09-01", "2026-10-30", freq="B")
    start = (days[rng.integers(0, len(days), n_calls)]
             + pd.to_timedelta(rng.integers(9 * 3600, 18 * 3600, n_calls), unit="s"))
    start = start.sort_values()
    script = rng.choice(list(SCRIPTS), n_calls)
    lift = np.array([SCRIPTS[s] for s in script])
    answered = rng.random(n_calls) < 0.7
    # among answered calls: rejected / callback / interested / sale, better scripts shift up
    score = rng.normal(lift, 1.0)
    stage = np.digitize(score, [0.2, 0.9, 1.5]) + 1
    outcome = np.where(answered, np.array(OUTCOMES)[stage], "未接通")
    seconds = np.where(answered, rng.gamma(2.0, 90.0, n_calls).round() + 15 * stage, 0).astype(int)
    end = start + pd.to_timedelta(seconds, unit="s")
    objection = np.where(np.isin(outcome, ["拒绝", "约回访", "有意向"]) & (rng.random(n_calls) < 0.6),
                         rng.choice(OBJECTIONS, n_calls), "")
    remark = [rng.choice(REMARKS[o]) for o in outcome]
    amount = np.where(outcome == "成交", rng.choice([999, 1999, 2999, 4999], n_calls), 0)
    rep = rng.choice([r[0] for r in REPS], n_calls)
    cust = customers.iloc[rng.integers(0, n_customers, n_calls)].reset_index(drop=True)
    return pd.DataFrame({
        "通话编号": [f"CL{d:%Y%m%d}{i:04d}" for i, d in enumerate(start, start=1)],
        "坐席工号": rep,
        "坐席姓名": [rep_names[r] for r in rep],
        "所属小组": [dict(REPS)[r] for r in rep],
        "客户编号": cust["客户编号"],
        "客户姓名": cust["客户姓名"],
        "手机号": cust["手机号"],
        "所在城市": cust["所在城市"],
        "话术": script,
        "呼叫日期": start.strftime("%Y/%m/%d"),
        "呼叫时间": start.strftime("%H:%M:%S"),
        "挂机时间": end.strftime("%H:%M:%S"),
        "通话结果": outcome,
        "异议类型": objection,
        "成交金额": [str(a) if a else "" for a in amount],
        "毛利": [f"{a * 0.3:.1f}" if a else "" for a in amount],
        "备注": remark,
    })


def make_targets() -> pd.DataFrame:
    """The sales plan beside the export: revenue and deal targets per rep, new-customer targets
    per team (split over the reps by the policy's rule), as a Chinese sales office keeps it."""
    rows = []
    for month in ("2026年9月", "2026年10月"):
        for rep, team in REPS:
            rows.append({"月份": month, "坐席工号": rep, "所属小组": "", "指标": "销售额", "目标值": "6000"})
            rows.append({"月份": month, "坐席工号": rep, "所属小组": "", "指标": "成交单数", "目标值": "2"})
        for team in sorted({t for _, t in REPS}):
            rows.append({"月份": month, "坐席工号": "", "所属小组": team, "指标": "新客户数", "目标值": "5"})
    return pd.DataFrame(rows)


def main(out: Path = OUT) -> Path:
    make_export().to_csv(out, index=False, encoding="gb18030", lineterminator="\r\n")
    make_targets().to_csv(out.parent / "targets_zh.csv", index=False, encoding="gb18030", lineterminator="\r\n")
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
