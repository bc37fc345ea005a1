"""The one data converter of every Temporal client duesflow builds (worker, callers' client, CLI, stack, benchmark,
the tests' server and replayer): pydantic payloads, encrypted by the key ring's codec, with failure messages and
stack traces moved into an encoded attribute so the codec encrypts them too.

Readable without a key: search attributes (the SDK never encodes them), a workflow's static summary given as
``readable_summary``, and what Temporal itself records (ids, types, times); decision 0011 keeps personal data out
of all of them. Everything else is encrypted, activity summaries included."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from deployment.encryption import EncryptionCodec, KeyRing


def data_converter(keyring: KeyRing) -> DataConverter:
    """The pydantic converter, encrypting every payload under ``keyring``'s primary key (decrypting by key id;
    payloads written before encryption pass through unchanged)."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def readable_summary(text: str) -> Payload:
    """A workflow's static summary as a payload the codec never sees (the SDK passes a ready payload through), so
    the Web UI and the ``temporal`` CLI show it without a key: summaries hold no personal data (decision 0011).
    Only for a start's summary; everything else goes through the converter."""
    return pydantic_data_converter.payload_converter.to_payload(text)


async def reveal_failures(converter: DataConverter, failures: Iterable[Failure]) -> None:
    """Give failures read raw (from a history's events or the server's pending activities, where the message says
    "Encoded failure") their message and stack trace back, in place, causes included, as they read before
    encryption: for code that reads ``failure.message`` from the protos. Their details stay encrypted."""
    for top in failures:
        failure: Failure | None = top
        while failure is not None:
            if failure.HasField("encoded_attributes"):
                [attributes] = await converter.decode([failure.encoded_attributes])
                if isinstance(attributes, dict):
                    failure.message = str(attributes.get("message") or "")
                    failure.stack_trace = str(attributes.get("stack_trace") or "")
                failure.ClearField("encoded_attributes")
            failure = failure.cause if failure.HasField("cause") else None


async def failure_message(converter: DataConverter, failure: Failure) -> str:
    """The readable message of one failure read raw; the failure itself is left as it was."""
    copy = Failure()
    copy.CopyFrom(failure)
    await reveal_failures(converter, [copy])
    return copy.message
