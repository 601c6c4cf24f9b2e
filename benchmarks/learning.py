"""The optimization learner against a known optimum.

Simulated autoscaling environments whose optimum is known exactly: the load follows a
daily pattern (six four-hour bands, each with its own load), latency is a queueing curve
of the utilisation (load / (replicas x capacity)), cost is linear in replicas, and the
reward is minus (cost + a penalty for latency over the objective), observed with noise.
Every step the learner (reconciler/optimize/learner.py, linear Thompson sampling)
chooses the scaling threshold — the target utilisation that sets the replicas, ceil(load /
(capacity x target)) — and is told the noisy reward: it learns the threshold a fixed
autoscaler would have to be tuned to, per band and environment. It sees each threshold as
the replicas it asks for and the utilisation those would run at under the band's load
(`features`), never the environment's latency curve, objective, cost or penalty: one model
shared by every band, so what one band teaches carries over to the others.

For each environment, over the same seeds, the script prints the cumulative regret
(expected reward of the optimum minus that of the action taken, summed over the steps) of:
the learner, a fixed-threshold autoscaler (Kubernetes' horizontal autoscaler rule: replicas
= ceil(replicas x utilisation / 70%), left alone within a 10% tolerance, seeing the band's
load as it starts) and the oracle (0 by definition); and the step
from which the learner's greedy policy (its posterior means) earns within 5% of the
optimum's expected reward. Mean and spread over the seeds.

    python3 benchmarks/learning.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import ratio
from reconciler.optimize.learner import Learner, Prior

REPLICAS = list(range(1, 13))
TARGETS = [round(t, 2) for t in np.arange(0.30, 0.96, 0.05)]
BANDS = [f"{h:02d}-{h + 4:02d}h" for h in range(0, 24, 4)]


@dataclass(frozen=True)
class Environment:
    name: str
    loads: tuple[float, ...]  # requests/s in each band
    capacity: float = 100.0  # requests/s one replica serves
    base_latency: float = 20.0  # ms at no load
    objective: float = 60.0  # ms
    cost: float = 1.0  # per replica per step
    penalty: float = 10.0  # per objective's worth of latency above the objective
    noise: float = 1.0  # sd of the observed reward

    def expected(self, band: int, replicas: int) -> float:
        utilisation = min(self.loads[band] / (replicas * self.capacity), 0.99)
        latency = self.base_latency / (1 - utilisation)
        over = max(0.0, latency - self.objective) / self.objective
        return -(self.cost * replicas + self.penalty * over)

    def replicas(self, band: int, target: float) -> int:
        """The replicas a target utilisation asks for in `band`."""
        wanted = int(np.ceil(self.loads[band] / (self.capacity * target)))
        return min(max(wanted, REPLICAS[0]), REPLICAS[-1])

    def table(self) -> np.ndarray:
        return np.array([[self.expected(b, r) for r in REPLICAS] for b in range(len(BANDS))])


ENVIRONMENTS = [
    Environment("daily web", loads=(50, 150, 400, 600, 350, 120)),
    Environment("steep latency", loads=(80, 200, 500, 700, 450, 150), penalty=30, base_latency=30),
    Environment("cost heavy", loads=(50, 150, 400, 600, 350, 120), cost=3, penalty=5),
]


# knots of the spline of the queueing factor 1 / (1 - utilisation)
KNOTS = tuple(float(k) for k in np.arange(1.5, 6.01, 0.5))
FEATURES = ["bias", "replicas", "queueing", *(f"queueing>{k:g}" for k in KNOTS)]


def features(env: Environment, band: int, target: float) -> list[float]:
    """What the learner knows of a threshold in a band: the replicas it asks for (what
    cost follows) and the utilisation they would run at under the band's load, through the
    queueing factor 1 / (1 - utilisation) (what latency follows) and a piecewise-linear
    spline of it with knots every 0.5 from 1.5 to 6 (where the latency objective bites is
    learnt)."""
    replicas = env.replicas(band, target)
    utilisation = min(env.loads[band] / (replicas * env.capacity), 0.99)
    queueing = 1 / (1 - utilisation)
    return [1.0, float(replicas), queueing, *(max(0.0, queueing - k) for k in KNOTS)]


def run_learner(env: Environment, steps: int, seed: int) -> tuple[float, int | None, float]:
    """(cumulative regret, step within 5% of the optimum or None, regret of the last
    third of the steps: the rate once learnt)."""
    table = table_of(env)
    best = table.max(axis=1)
    rng = np.random.default_rng(seed + 1000)
    learner = Learner(FEATURES, seed=seed, prior=Prior(precision=1.0, shape=1.0, scale=1.0))
    options = [{f"{t:.2f}": features(env, b, t) for t in TARGETS} for b in range(len(BANDS))]
    regret, within, late = 0.0, None, 0.0
    for step in range(steps):
        band = step % len(BANDS)
        action = learner.choose(options[band])
        mean = table[band, REPLICAS.index(env.replicas(band, float(action)))]
        regret += best[band] - mean
        late += (best[band] - mean) if step >= steps - steps // 3 else 0.0
        learner.record(options[band][action], mean + rng.normal(0, env.noise))
        if within is None and (step + 1) % len(BANDS) == 0:
            greedy = sum(
                table[b, REPLICAS.index(env.replicas(b, float(learner.best(options[b]))))]
                for b in range(len(BANDS))
            )
            if abs(greedy - best.sum()) <= 0.05 * abs(best.sum()):
                within = step + 1
    return regret, within, late


TARGET, TOLERANCE = 0.7, 0.1


def run_threshold(env: Environment, steps: int) -> float:
    table = table_of(env)
    best = table.max(axis=1)
    replicas, regret = 1, 0.0
    for step in range(steps):
        band = step % len(BANDS)
        utilisation = env.loads[band] / (replicas * env.capacity)
        if abs(utilisation / TARGET - 1) > TOLERANCE:
            wanted = int(np.ceil(replicas * utilisation / TARGET))
            replicas = min(max(wanted, REPLICAS[0]), REPLICAS[-1])
        regret += best[band] - table[band, REPLICAS.index(replicas)]
    return regret


_TABLES: dict[str, np.ndarray] = {}


def table_of(env: Environment) -> np.ndarray:
    if env.name not in _TABLES:
        _TABLES[env.name] = env.table()
    return _TABLES[env.name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny size")
    args = parser.parse_args()
    steps, seeds = (240, 3) if args.quick else (3000, 20)
    print(f"{steps} steps (a step is one four-hour band), {seeds} seeds per environment")
    for env in ENVIRONMENTS:
        table = table_of(env)
        optimum = [REPLICAS[int(i)] for i in table.argmax(axis=1)]
        results = [run_learner(env, steps, seed) for seed in range(seeds)]
        regrets = np.array([r for r, _, _ in results])
        reached = [w for _, w, _ in results if w is not None]
        late = float(np.mean([x for _, _, x in results])) / (steps // 3)
        baseline = run_threshold(env, steps)  # deterministic: the same on every seed
        print(f"\n{env.name}: optimum replicas per band {optimum}")
        print(
            f"  regret learner {regrets.mean():.1f} (sd {regrets.std():.1f}, "
            f"min {regrets.min():.1f}, max {regrets.max():.1f}); "
            f"fixed threshold {baseline:.1f}; oracle 0.0"
        )
        if reached:
            print(
                f"  within 5% of the optimum after {np.mean(reached):.0f} steps "
                f"(median {np.median(reached):.0f}, max {max(reached)}) "
                f"in {len(reached)}/{seeds} seeds"
            )
        else:
            print(f"  never within 5% of the optimum in {steps} steps")
        beaten = int((regrets < baseline).sum())
        print(f"  the learner's regret is below the fixed threshold's in {beaten}/{seeds} seeds")
        rate = baseline / steps
        print(f"  regret per step once learnt: learner {late:.3f}, fixed threshold {rate:.3f}")
        if regrets.mean() >= baseline and rate > late:
            even = (regrets.mean() - baseline) / (rate - late) + steps
            print(
                f"  at these rates the learner's total regret drops below it after {even:.0f} steps"
            )
        ratio(
            f"regret {env.name}",
            float(regrets.mean()),
            baseline,
            against="fixed-threshold autoscaler",
        )


if __name__ == "__main__":
    main()
