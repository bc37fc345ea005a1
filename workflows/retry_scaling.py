"""A worker setting, not a workflow input: ``DUESFLOW_RETRY_INTERVAL_SCALE`` shrinks the waits between retries of
every background step a workflow schedules on this worker (tests and drills use 0.01: a retried step then takes
milliseconds instead of minutes). The number of attempts is unchanged. Retry policies are not part of a workflow's
determinism, so a history recorded with one scale replays under another.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.worker import (
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)


class RetryScaling(Interceptor):
    def __init__(self, scale: float) -> None:
        self.scale = scale

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        scale = self.scale

        class _Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(_Outbound(outbound, scale))

        return _Inbound


class _Outbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, scale: float) -> None:
        super().__init__(next)
        self._scale = scale

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle:
        if input.retry_policy is not None:
            input.retry_policy = scaled(input.retry_policy, self._scale)
        return super().start_activity(input)


def scaled(policy: RetryPolicy, scale: float) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=policy.initial_interval * scale,
        backoff_coefficient=policy.backoff_coefficient,
        maximum_interval=policy.maximum_interval * scale if policy.maximum_interval is not None else None,
        maximum_attempts=policy.maximum_attempts,
        non_retryable_error_types=policy.non_retryable_error_types,
    )
