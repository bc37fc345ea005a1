"""What a run measures: the sections chosen, how many documents each takes, rates, limits (from the command line)."""

from __future__ import annotations

from dataclasses import dataclass

WARMUP_DOCS = 10  # submitted to each engine before anything is measured


@dataclass
class Plan:
    count: int
    rates: list[float]
    throughput_count: int
    inline_count: int
    inline_threads: int
    burst_concurrency: int
    history_factor: int
    result_timeout: float
    stall_timeout: float
    sections: set[str]
    dup_copies: int = 30
    dup_rounds: int = 10

    def docs_needed(self) -> int:
        """Every scenario takes fresh documents: how many the whole run may submit (an upper bound)."""
        n_rates = len(self.rates)
        need = WARMUP_DOCS
        if "rate" in self.sections:
            need += self.count * n_rates
        if "burst" in self.sections:
            need += self.throughput_count
        if "inline" in self.sections:
            need += 2 * self.inline_count
        if "long" in self.sections:
            need += self.count * n_rates + self.throughput_count
        if "dup" in self.sections:
            need += self.dup_rounds
        return need

    def long_history_docs(self) -> int:
        """(e) repeats (a)+(b) and (c), those of them that run, on documents of its own."""
        n_docs = self.count * len(self.rates) if "rate" in self.sections else 0
        return n_docs + (self.throughput_count if "burst" in self.sections else 0)
