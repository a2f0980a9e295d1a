"""Out-of-time evaluation of the lead score on UCI Bank Marketing (the table in docs/leads.md).

    .venv/bin/python benchmarks/leads_uci.py [--source ../shared/datasets/uci-bank-marketing] [--out DIR]

Imports ``bank-additional-full.csv`` with ``data/mappings/uci_bank_marketing.toml`` (so without
``duration``, which is known only after the call, and without the economic context columns),
runs the rolling-window backtest (every month scored by a model fitted on the months before
it) and, for comparison only, a plain random 5-fold split of the same customer-months. Writes
``backtest.csv`` and ``summary.md`` into ``--out`` and prints the summary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def random_split_auc(data, end_month: str, folds: int = 5, seed: int = 0) -> dict:
    """AUC / ALIFT / top-half share of the same model under a random split of all customer-months."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    from telesales_lab.analysis.leads import BOOSTING_PARAMS, _binary_rows, training_frame
    from telesales_lab.analysis.leads_eval import ranking_metrics
    from telesales_lab.data.periods import parse_month

    frame = training_frame(data, parse_month(end_month) + 1)
    feats = [c for c in frame.columns if c not in ("customer_id", "connected", "sales", "train_month")]
    feats = [f for f in feats if frame[f].notna().any()]
    label = (frame["sales"] > 0).to_numpy(int)
    score = np.full(len(frame), np.nan)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(frame, label):
        part = frame.iloc[train]
        rows, y, w = _binary_rows(part)
        x = part.iloc[rows]
        model = HistGradientBoostingClassifier(**BOOSTING_PARAMS, categorical_features="from_dtype",
                                               random_state=seed)
        model.fit(x[feats], y, sample_weight=w)
        score[test] = model.predict_proba(frame.iloc[test][feats])[:, 1]
    pos = frame["sales"].to_numpy(float)
    return ranking_metrics(score, pos, frame["connected"].to_numpy(float) - pos)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(ROOT.parent / "shared" / "datasets" / "uci-bank-marketing"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "leads_uci"))
    args = parser.parse_args(argv)
    csv = Path(args.source) / "bank-additional-full.csv"
    if not csv.exists():
        print(f"{csv} is absent: nothing to evaluate", file=sys.stderr)
        return 2
    from telesales_lab.analysis.leads_eval import backtest
    from telesales_lab.data.importer import import_sources
    from telesales_lab.data.load import load_dataset

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        import_sources([str(csv)], str(ROOT / "data" / "mappings" / "uci_bank_marketing.toml"), str(Path(tmp) / "bm"))
        data = load_dataset(Path(tmp) / "bm", cache=False)
        started = time.perf_counter()
        table = backtest(data, "2010-11", months=40)
        seconds = time.perf_counter() - started
        rnd = random_split_auc(data, "2010-11")
    table.to_csv(out / "backtest.csv", index=False)
    pooled = table[table["month"] == "all"].set_index("scorer")
    months = table[table["month"] != "all"]
    lead = months[months["scorer"] == "lead_score"]
    weighted = {m: float(np.average(lead[m].dropna(), weights=lead.loc[lead[m].notna(), "connected"]))
                for m in ("auc", "alift", "top_half_share")}
    lines = [
        "| evaluation | AUC | ALIFT | sales reached by the top half |",
        "|---|---|---|---|",
        "| Moro, Cortez & Rita (2014), best model, rolling window | 0.80 | 0.70 | 79 % |",
    ]
    for scorer, name in (("lead_score", "lead score, rolling window, pooled over the scored months"),
                         ("segment_rate", "baseline: segment's past rate, pooled"),
                         ("recency", "baseline: recency of last positive contact, pooled")):
        r = pooled.loc[scorer]
        lines.append(f"| {name} | {r['auc']:.3f} | {r['alift']:.3f} | {r['top_half_share']:.0%} |")
    lines.append(f"| lead score, rolling window, within each month (mean weighted by calls) | {weighted['auc']:.3f} | "
                 f"{weighted['alift']:.3f} | {weighted['top_half_share']:.0%} |")
    lines.append(f"| lead score, random 5-fold split (overstates: not out of time) | {rnd['auc']:.3f} | "
                 f"{rnd['alift']:.3f} | {rnd['top_half_share']:.0%} |")
    lines.append("")
    lines.append(f"{len(months['month'].unique())} months scored, {int(pooled.loc['lead_score', 'connected']):,} calls, "
                 f"{int(pooled.loc['lead_score', 'sales']):,} sales; backtest {seconds:.0f} s.")
    text = "\n".join(lines)
    (out / "summary.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
