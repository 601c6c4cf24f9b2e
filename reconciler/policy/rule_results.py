"""The conftest rule convention, so policies written for `conftest test` run unchanged.

A policy's verdict is read from its sets `deny`, `violation` and `warn` and their named
variants (`deny_<name>`, `violation_<name>`, `warn_<name>`), whose members are strings or
objects with a `msg`. `exception[rules]` lists rule-name suffixes (`""` is the plain
rule) whose findings are suppressed for this input. Gatekeeper templates use the same
reading for their `violation` set.

A policy that both denies and warns about one input gives two outcomes, each with its own
messages (conftest prints them as FAIL and WARN lines): `Findings.parts`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.policy.decisions import Outcome
from reconciler.policy.rego import UNDEFINED

_PREFIXES = ("deny", "violation", "warn")


@dataclass(frozen=True, kw_only=True)
class Findings:
    """What a policy's decision rules said about one input."""

    denials: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()  # rules silenced by `exception`, e.g. ("deny_latest",)

    @property
    def outcome(self) -> Outcome:
        if self.denials:
            return Outcome.DENY
        return Outcome.WARN if self.warnings else Outcome.ALLOW

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(sorted((*self.denials, *self.warnings)))

    def parts(self) -> tuple[Part, ...]:
        """Each outcome with its own messages, as `conftest test` reports them: the gate
        (deny with the denials, else allow), then a warning when a `warn` rule fired."""
        gate = Part(
            outcome=Outcome.DENY if self.denials else Outcome.ALLOW,
            messages=self.denials,
            suppressed=self.suppressed,
        )
        if not self.warnings:
            return (gate,)
        warned = tuple(r for r in self.suppressed if (split_rule(r) or ("",))[0] == "warn")
        return gate, Part(outcome=Outcome.WARN, messages=self.warnings, suppressed=warned)

    def part(self, outcome: Outcome) -> Part:
        """The part a decision of `outcome` stands for: the warning for WARN, else the gate."""
        found = self.parts()
        if outcome is Outcome.WARN:
            return found[1] if len(found) > 1 else Part(outcome=Outcome.ALLOW)
        return found[0]


@dataclass(frozen=True, kw_only=True)
class Part:
    """One outcome of one policy on one input, with the messages and silenced rules behind it."""

    outcome: Outcome
    messages: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()


def split_rule(rule: str) -> tuple[str, str] | None:
    """`deny_latest` -> ("deny", "latest"); `warn` -> ("warn", ""); others -> None."""
    for prefix in _PREFIXES:
        if rule == prefix:
            return prefix, ""
        if rule.startswith(prefix + "_"):
            return prefix, rule[len(prefix) + 1 :]
    return None


def messages(value: Any, *, rule: str) -> list[str]:
    """Members of a rule's value as strings: strings as they are, objects by `msg`."""
    if value == UNDEFINED or value is False or value is None:
        return []
    members = value if isinstance(value, list) else [value]
    return [_message(m, rule=rule) for m in members]


def _message(member: Any, *, rule: str) -> str:
    if isinstance(member, str):
        return member
    if isinstance(member, dict) and isinstance(member.get("msg"), str):
        return str(member["msg"])
    if member is True:
        return rule
    return json.dumps(member, sort_keys=True, separators=(",", ":"))


def excepted(value: Any) -> set[str]:
    """Rule-name suffixes listed by `exception` members (each a list of names)."""
    if not isinstance(value, list):
        return set()
    names: set[str] = set()
    for member in value:
        if isinstance(member, list):
            names.update(n for n in member if isinstance(n, str))
        elif isinstance(member, str):
            names.add(member)
    return names


def collect(results: Mapping[str, Any]) -> Findings:
    """Fold the values of a policy's decision rules ({rule name: value}) into findings."""
    silenced = excepted(results.get("exception"))
    denials: list[str] = []
    warnings: list[str] = []
    suppressed: list[str] = []
    for rule, value in results.items():
        parts = split_rule(rule)
        if parts is None:
            continue
        found = messages(value, rule=rule)
        if parts[1] in silenced:
            if found:
                suppressed.append(rule)
            continue
        (warnings if parts[0] == "warn" else denials).extend(found)
    return Findings(
        denials=tuple(sorted(denials)),
        warnings=tuple(sorted(warnings)),
        suppressed=tuple(sorted(suppressed)),
    )
