"""Totals for the `summary` line at exit."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Stats:
    connections: int = 0  # admitted (served) connections; busy rejects count as errors
    messages: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    errors: Counter[str] = field(default_factory=Counter)
