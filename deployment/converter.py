"""The one data converter of every Temporal client duesflow builds (worker, callers' client, CLI, stack, benchmark,
the tests' server and replayer): pydantic payloads, encrypted by the key ring's codec, with failure messages and
stack traces moved into an encoded attribute so the codec encrypts them too.

Search attributes and what Temporal itself records (ids, types, timestamps) stay readable, as they must: decision
0011 keeps personal data out of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

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
