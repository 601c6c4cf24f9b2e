"""Decisions in the store: a record to its stored entry and back, and the stored outcomes
as the history later decisions are scored on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from reconciler.decide.records import (
    Choice,
    Context,
    DecisionRecord,
    Level,
    Option,
    Outcome,
    Score,
)
from reconciler.events import Event, EventType
from reconciler.store.daemon_decisions import DaemonDecisions, DecisionEntry


class StoreHistory:
    """`History` read from the store's settled decisions (succeeded vs failed)."""

    def __init__(self, store: DaemonDecisions) -> None:
        self.store = store

    def counts(self, bucket: str, options: Sequence[str]) -> dict[str, tuple[float, float]]:
        return self.store.outcome_counts(bucket, options)


def to_entry(record: DecisionRecord) -> DecisionEntry:
    chosen = record.choice.chosen
    return DecisionEntry(
        id=record.id,
        at=datetime.fromisoformat(record.at),
        type=record.context.type,
        subject=record.context.subject,
        bucket=record.context.bucket,
        option=chosen.name if chosen else None,
        level=record.level.value,
        confidence=record.choice.confidence,
        outcome=record.outcome.value,
        run_id=record.run_id,
        record=record.to_json(),
    )


def from_entry(entry: DecisionEntry) -> DecisionRecord:
    return from_json(entry.record)


def from_json(data: dict[str, Any]) -> DecisionRecord:
    """The record `DecisionRecord.to_json` wrote."""
    choice = data["choice"]
    chosen = choice.get("chosen")
    scores = tuple(
        Score(**{**s, "option": Option(**s["option"]), "rule_reasons": tuple(s["rule_reasons"])})
        for s in choice["scores"]
    )
    return DecisionRecord(
        **{
            **data,
            "context": Context(**data["context"]),
            "options": tuple(Option(**o) for o in data["options"]),
            "choice": Choice(
                **{**choice, "scores": scores, "chosen": Option(**chosen) if chosen else None}
            ),
            "level": Level(data["level"]),
            "outcome": Outcome(data["outcome"]),
        }
    )


def settled(
    record: DecisionRecord,
    outcome: Outcome,
    *,
    at: datetime,
    note: str,
    approver: str | None = None,
) -> DecisionRecord:
    """`record` with its outcome, how it was established (`note`), the approver when one
    answered, and the time it settled."""
    return replace(
        record,
        outcome=outcome,
        note=note,
        approver=approver if approver is not None else record.approver,
        settled_at=at.isoformat(),
    )


def summary(entry: DecisionEntry) -> dict[str, Any]:
    """A stored decision's indexed fields, as the API and `list --format json` show them."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "type": entry.type,
        "subject": entry.subject,
        "option": entry.option,
        "confidence": entry.confidence,
        "level": entry.level,
        "outcome": entry.outcome,
        "runId": entry.run_id,
    }


def event(
    record: DecisionRecord,
    type: EventType,
    *,
    at: datetime,
    message: str,
    extra: Mapping[str, Any] | None = None,
) -> Event:
    """The bus event of a decision taken or settled (the audit log, notifications and the
    event feed read it), whoever decided: remediation, workflow choices, optimization."""
    chosen = record.choice.chosen
    return Event(
        type=type,
        at=at,
        source="",
        object_key=f"decision/{record.id}",
        message=message,
        data={
            "decision": record.id,
            "type": record.context.type,
            "subject": record.context.subject,
            "option": chosen.name if chosen else None,
            "confidence": round(record.choice.confidence, 4),
            "level": record.level.value,
            "outcome": record.outcome.value,
            "approver": record.approver,
            "run": record.run_id,
            **(extra or {}),
        },
    )
