"""Decision latency and calibration.

Latency: 10k remediation decisions (score + level: the repository's rules on regorus, the
outcome history read from a SQLite store holding 100k past decisions, the Beta posteriors
and the sampled chance of being best) against a baseline of a plain regorus evaluation of
the same rules on the same input. Prints p50/p99 of both and their ratios; the target is a
p99 at or below 5 ms.

Calibration: 12k decisions on simulated histories whose true success chances are known;
decisions grouped by confidence (tenths), the gap between mean confidence and the observed
success rate per group and its weighted mean (the expected calibration error).

    python3 benchmarks/decisions.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import percentiles, ratio
from reconciler.decide import decider, ledger
from reconciler.decide.records import Context, Option
from reconciler.decide.scoring import RuleScore, choose
from reconciler.policy.rego import RegoEngine
from reconciler.specs.decisions import DecisionSettings, Weights
from reconciler.store.daemon_decisions import DecisionEntry
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

RULES = """package reconciler.decisions.remediation

import rego.v1

score[o.name] := 0.8 if {
	some o in input.options
	o.target == "restart"
	input.context.window == "off-hours"
}

score[o.name] := 0.6 if {
	some o in input.options
	o.target == "scale"
}

reasons[o.name] contains "restarts are safe off-hours" if {
	some o in input.options
	o.target == "restart"
}
"""
OPTIONS = [Option("runbook", t) for t in ("restart", "scale", "drain")]
KINDS = [f"Kind{i}" for i in range(20)]
WINDOWS = ("business-hours", "off-hours")


def seed_history(store: SqliteStore, size: int, rng: np.random.Generator) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    for i in range(size):
        kind, window = KINDS[i % len(KINDS)], WINDOWS[(i // len(KINDS)) % 2]
        entries.append(
            DecisionEntry(
                id=f"h{i}",
                at=at,
                type="remediation",
                subject=f"b/{kind}//r{i}",
                bucket=f"remediation|{kind}|{window}",
                option=OPTIONS[int(rng.integers(0, 3))].name,
                level="autonomous",
                confidence=0.9,
                outcome="succeeded" if rng.random() < 0.8 else "failed",
                record={},
            )
        )
    for start in range(0, size, 10_000):
        store.add_daemon_decisions(entries[start : start + 10_000])


def latency(decisions: int, history: int) -> None:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as scratch:
        store = SqliteStore(Path(scratch) / "r.db", retention=RetentionSettings())
        seed_history(store, history, rng)
        engine = RegoEngine()
        engine.add_module("decisions.rego", RULES)
        settings = DecisionSettings()
        past = ledger.StoreHistory(store)
        contexts = [
            Context(
                type="remediation",
                subject=f"b/{KINDS[i % 20]}//x{i}",
                kind=KINDS[i % 20],
                window=WINDOWS[i % 2],
            )
            for i in range(decisions)
        ]
        ours, base = [], []
        for context in contexts:
            start = time.perf_counter()
            record = decider.decide(
                context, OPTIONS, settings=settings, history=past, engine=engine
            )
            ours.append(time.perf_counter() - start)
            assert record.choice.chosen is not None
            start = time.perf_counter()
            engine.set_input_json(
                json.dumps(
                    {
                        "context": {"window": context.window},
                        "options": [
                            {"kind": o.kind, "target": o.target, "name": o.name} for o in OPTIONS
                        ],
                    }
                )
            )
            engine.eval_query("data.reconciler.decisions.remediation")
            base.append(time.perf_counter() - start)
        store.close()
    p50, p99 = percentiles([t * 1000 for t in ours], 50, 99)
    b50, b99 = percentiles([t * 1000 for t in base], 50, 99)
    print(f"decisions: {decisions}, history: {history} stored decisions")
    print(
        f"decision latency ms: p50 {p50:.3f} p99 {p99:.3f} (target p99 <= 5 ms: "
        f"{'met' if p99 <= 5 else 'MISSED'})"
    )
    print(f"plain rego eval ms: p50 {b50:.3f} p99 {b99:.3f}")
    ratio("decision p50", p50, b50, against="plain regorus evaluation of the same rules")
    ratio("decision p99", p99, b99, against="plain regorus evaluation of the same rules")


def calibration(decisions: int) -> None:
    rng = np.random.default_rng(11)
    weights = Weights()
    confidence, succeeded = np.empty(decisions), np.empty(decisions)
    claimed = np.empty(decisions)  # what the rules alone claim for the same choice
    for i in range(decisions):
        rule = rng.uniform(0.05, 0.95, size=3)
        truth = rng.beta(weights.rules * rule, weights.rules * (1 - rule))
        tried = rng.integers(0, 25, size=3)
        wins = rng.binomial(tried, truth)
        rules = {o.name: RuleScore(float(r)) for o, r in zip(OPTIONS, rule, strict=True)}
        history = {
            o.name: (float(w), float(t - w)) for o, w, t in zip(OPTIONS, wins, tried, strict=True)
        }
        choice = choose(OPTIONS, rules, history, weights, seed=i)
        assert choice.chosen is not None
        confidence[i] = choice.confidence
        claimed[i] = rule[OPTIONS.index(choice.chosen)]
        succeeded[i] = rng.random() < truth[OPTIONS.index(choice.chosen)]
    print("confidence bin   decisions  mean confidence  success rate")
    ece = expected_error(confidence, succeeded, show=True)
    print(f"expected calibration error: {ece:.4f} over {decisions} simulated decisions")
    # The known optimum is 0 (an oracle knowing the true chances); the baseline is the
    # confidence the rules alone claim for the same choices, ignoring the history.
    naive = expected_error(claimed, succeeded, show=False)
    print(f"expected calibration error of the rules' own claim: {naive:.4f}")
    ratio("calibration error", ece, naive, against="the rule score alone as confidence")


def expected_error(confidence: np.ndarray, succeeded: np.ndarray, *, show: bool) -> float:
    """Mean |confidence - success rate| over confidence tenths, weighted by decisions."""
    which = np.clip(np.digitize(confidence, np.linspace(0, 1, 11)) - 1, 0, 9)
    ece = 0.0
    for b in range(10):
        members = which == b
        if not members.any():
            continue
        c, s = confidence[members].mean(), succeeded[members].mean()
        ece += members.sum() * abs(c - s) / len(confidence)
        if show:
            print(f"  {b / 10:.1f}-{(b + 1) / 10:.1f}  {members.sum():>10}  {c:>15.3f}  {s:>12.3f}")
    return float(ece)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny size")
    args = parser.parse_args()
    if args.quick:
        latency(200, 2_000)
        calibration(500)
    else:
        latency(10_000, 100_000)
        calibration(12_000)


if __name__ == "__main__":
    main()
