"""The simulation report and its sections, as frozen pydantic records.

They cross a process boundary (the sandbox sends each section as JSON) and are rendered in
five formats, so they are plain data: `model_dump(mode="json")` is the stable JSON shape of
`simulate --format json`, and `model_validate` reads it back. A section that could not be
computed is None and an `Issue` in `Report.errors` says why.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Delta(StrEnum):
    """How a decision on one resource moved from the base policies to the head's."""

    NEWLY_DENIED = "newly-denied"
    NEWLY_ALLOWED = "newly-allowed"
    NEW_WARNING = "new-warning"


class ProblemItem(Record):
    path: str
    line: int | None = None
    key: str = ""
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where} {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ProblemsSection(Record):
    introduced: tuple[ProblemItem, ...] = ()
    fixed: tuple[ProblemItem, ...] = ()
    at_head: tuple[ProblemItem, ...] = ()


class TestItem(Record):
    __test__ = False

    package: str
    name: str
    path: str
    line: int | None
    outcome: str
    message: str = ""


class TestsSection(Record):
    __test__ = False

    counts: dict[str, int]
    results: tuple[TestItem, ...] = ()  # every result; failures first

    @property
    def ok(self) -> bool:
        return not (self.counts.get("fail", 0) or self.counts.get("error", 0))


class PolicyChange(Record):
    """A Rego package, Gatekeeper template or constraint, or binding added/removed/changed."""

    kind: str  # package | template | constraint | binding
    name: str
    change: Change
    path: str
    line: int | None = None
    details: tuple[str, ...] = ()
    enforcement_before: str | None = None
    enforcement_after: str | None = None

    @property
    def enforcement_change(self) -> str | None:
        before, after = self.enforcement_before, self.enforcement_after
        if before and after and before != after:
            return f"{before} -> {after}"
        return None


class DecisionDelta(Record):
    delta: Delta
    binding: str
    policy: str
    key: str
    path: str
    line: int | None = None
    enforcement: str
    outcome_before: str | None
    outcome_after: str | None
    action_before: str | None
    action_after: str | None
    messages: tuple[str, ...] = ()
    blocking: bool = False  # the head would block this change (strict or past deadline)
    cause: str = "policy"  # policy: the resource is unchanged | edited | added by the change


class DecisionsSection(Record):
    resources: int
    decisions_base: int
    decisions_head: int
    deltas: tuple[DecisionDelta, ...] = ()
    blocked_at_head: dict[str, list[str]] = {}  # resource key -> blocking policies at head


class PlanItem(Record):
    key: str
    action: str  # create | update | delete | not-observed
    changes: tuple[str, ...] = ()  # `op path` of each field that differs (no observed values)
    note: str = ""
    blocked_by: tuple[str, ...] = ()


class PlanSection(Record):
    observed_from: str  # "store <path>" or "providers (read-only)"
    counts: dict[str, int]
    items: tuple[PlanItem, ...] = ()
    orphans: tuple[str, ...] = ()


class FlipExample(Record):
    key: str
    at: str
    messages: tuple[str, ...] = ()


class Flip(Record):
    policy: str
    binding: str
    direction: str  # "allow->deny" | "deny->allow"
    count: int
    examples: tuple[FlipExample, ...] = ()


class ReplaySection(Record):
    replayed: int
    unchanged: int
    missing_inputs: int = 0
    binding_removed: int = 0
    flips: tuple[Flip, ...] = ()


class RunChange(Record):
    kind: str  # Workflow | Runbook
    name: str
    change: Change
    path: str
    line: int | None = None
    problems: tuple[str, ...] = ()
    dry_run: tuple[str, ...] = ()


class Fire(Record):
    """A workflow or runbook the change would start, and why."""

    kind: str  # Workflow | Runbook
    name: str
    trigger: str  # git | violation | remediation
    reason: str


class RunsSection(Record):
    changes: tuple[RunChange, ...] = ()
    fires: tuple[Fire, ...] = ()


class ConflictItem(Record):
    kind: str
    subjects: tuple[str, ...]
    locations: tuple[str, ...]
    message: str
    examples: tuple[str, ...] = ()


class Issue(Record):
    """A section that could not be computed."""

    section: str
    message: str
    blocking: bool = True  # unknown effects of the head's policies block the change


class Verdict(StrEnum):
    """What the daemon would make of the head revision, worst first."""

    REJECTED = "rejected"  # it would not load the head: nothing else would happen
    BLOCKED = "blocked"
    WARNINGS = "warnings"
    PASSES = "passes"


class Report(Record):
    base: str  # sha
    head: str
    changed_paths: tuple[str, ...] = ()
    rejection: tuple[ProblemItem, ...] = ()  # why the daemon would reject the head, if it would
    problems: ProblemsSection | None = None
    tests: TestsSection | None = None
    policies: tuple[PolicyChange, ...] = ()
    decisions: DecisionsSection | None = None
    plan: PlanSection | None = None
    replay: ReplaySection | None = None
    runs: RunsSection | None = None
    conflicts: tuple[ConflictItem, ...] = ()
    errors: tuple[Issue, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.base[:7]}..{self.head[:7]}"

    @property
    def rejected(self) -> bool:
        """The head does not load or compile: the daemon would keep its last good revision."""
        return bool(self.rejection)

    @property
    def verdict(self) -> Verdict:
        if self.rejected:
            return Verdict.REJECTED
        if self.blocked:
            return Verdict.BLOCKED
        return Verdict.WARNINGS if self.warnings else Verdict.PASSES

    @property
    def verdict_text(self) -> str:
        """The verdict in words: `rejected: 3 problems`, `would be blocked`, ..."""
        if self.rejected:
            count = len(self.rejection)
            return f"rejected: {count} problem{'' if count == 1 else 's'}"
        return _VERDICT_WORDS[self.verdict]

    def blocking_reasons(self) -> list[str]:
        """Why the change would be blocked (for a rejected head: its problems); empty when
        it would not."""
        if self.rejected:
            return [str(p) for p in self.rejection]
        reasons = []
        if self.problems and self.problems.at_head:
            reasons.append(f"{len(self.problems.at_head)} invalid spec(s) at head")
        if self.tests and not self.tests.ok:
            failed = self.tests.counts.get("fail", 0) + self.tests.counts.get("error", 0)
            reasons.append(f"{failed} failing Rego test(s) at head")
        if self.decisions:
            blocking = [d for d in self.decisions.deltas if d.blocking]
            if blocking:
                reasons.append(f"{len(blocking)} newly denied strict decision(s)")
        reasons += [f"{e.section}: {e.message}" for e in self.errors if e.blocking]
        return reasons

    @property
    def blocked(self) -> bool:
        return bool(self.blocking_reasons())

    @property
    def warnings(self) -> int:
        """Findings that do not block: advisory denials, new warnings, conflicts, flips."""
        if self.rejected:
            return 0
        deltas = self.decisions.deltas if self.decisions else ()
        soft = [d for d in deltas if d.delta is not Delta.NEWLY_ALLOWED and not d.blocking]
        flips = self.replay.flips if self.replay else ()
        return len(soft) + len(self.conflicts) + sum(1 for f in flips if f.direction[0] == "a")


_VERDICT_WORDS = {
    Verdict.BLOCKED: "would be blocked",
    Verdict.WARNINGS: "passes with warnings",
    Verdict.PASSES: "passes",
}
