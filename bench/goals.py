"""What duesflow aims at: ratios to the engine floor measured in the same run
(docs/decisions/0010-benchmark-against-an-engine-floor.md)."""

from __future__ import annotations

TARGET_ACK_RATIO = 1.2  # duesflow's ack p50 at most 1.2x the floor's
TARGET_THROUGHPUT_RATIO = 0.67  # duesflow's completed pipelines/s at least 0.67x the floor's


def ack_verdict(ratio: float) -> str:
    return "meets" if ratio <= TARGET_ACK_RATIO else "misses"


def throughput_verdict(ratio: float) -> str:
    return "meets" if ratio >= TARGET_THROUGHPUT_RATIO else "misses"
