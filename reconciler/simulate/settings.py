"""Limits of a simulation: the head revision is untrusted, so its evaluation is bounded.

Every stage of the sandbox process (load and compile, evaluate, test, replay) gets its own
CPU-time budget; the process as a whole gets an address-space cap and a wall-clock limit
after which the caller kills it, and an output limit: its error output is a file it may
not grow past `output_mib` (RLIMIT_FSIZE) and the caller refuses a longer message line.
A stage past its limit is reported, never waited for.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class SimulateSettings(BaseModel):
    """`simulate` settings; the command line may override each of them."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    cpu_seconds: float = Field(default=10.0, gt=0)
    """CPU time each stage of the sandbox may use."""
    wall_seconds: float = Field(default=120.0, gt=0)
    """Wall-clock time the whole sandbox may take before it is killed."""
    memory_mib: int = Field(default=2048, ge=256)
    """Address space of the sandbox process (RLIMIT_AS)."""
    output_mib: int = Field(default=16, ge=1)
    """Most the sandbox may write to its error output (RLIMIT_FSIZE), and the longest
    message line it may send; past either it is stopped and the stage reported."""
