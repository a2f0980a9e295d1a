"""Simulated error rates and speed of the daily-watched script experiments (issue 17).

``make bench BENCH_ARGS="--experiments"`` (or ``python benchmarks/experiments_sim.py``) runs
every situation of :data:`telesales_lab.analysis.experiment_sim.SCENARIOS` with 4,000
simulated experiments each (the tests run 400) and prints the table kept in
``docs/experiments.md``; ``--n`` and ``--seed`` change the size and the seed.
"""

from __future__ import annotations

import argparse
import sys
import time

from telesales_lab.analysis.experiment_sim import simulation_table


def _pct(v):
    return "" if v != v else f"{100 * v:.1f}%"


def markdown(table) -> str:
    head = ("| situation | always-valid: right decision | wrong winner | median day of a decision | "
            "naive daily check: wrong winner | raw daily z test: wrong winner | one-look test at day 30: "
            "right winner / wrong winner |")
    lines = [head, "|" + "---|" * 7]
    for r in table.itertuples():
        if r.effect == 0 and "margin" not in r.scenario:
            right = f"no difference {_pct(r.no_difference)}, continuing {_pct(r.continuing)}"
        elif "margin" in r.scenario:
            right = f"non-inferior {_pct(r.non_inferior)}, inferior {_pct(r.inferior)}"
        else:
            right = f"right winner {_pct(r.right_winner)}"
        fixed = f"{_pct(r.fixed_right_winner) or '-'} / {_pct(r.fixed_false_winner)}"
        day = "" if r.median_day != r.median_day else f"{r.median_day:.0f}"
        lines.append(f"| {r.scenario} | {right} | {_pct(r.false_winner)} | {day} | {_pct(r.naive_false_winner)} | "
                     f"{_pct(r.raw_false_winner)} | {fixed} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=4000, help="simulated experiments per situation (default 4000)")
    p.add_argument("--seed", type=int, default=17, help="seed (default 17)")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"--n {args.n} must be >= 1")
    t0 = time.perf_counter()
    table = simulation_table(n=args.n, random_state=args.seed)
    took = time.perf_counter() - t0
    print(markdown(table))
    print(f"\n{args.n} simulated experiments per situation, seed {args.seed}: {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
