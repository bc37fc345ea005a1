"""Payload encryption without a server (deployment/encryption.py, deployment/converter.py): the codec's round trip
and payload shape, payloads from before the codec, rotation between key rings, the one-line errors of a missing key
and a tampered payload, and every way the key ring's configuration can be wrong (one line naming the variable,
never a key)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from config.settings import ConfigError, Settings, as_environment, load_settings
from deployment.connection import connect_temporal
from deployment.converter import data_converter, failure_message, readable_summary, reveal_failures
from deployment.encryption import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    EncryptionKeyMissing,
    KeyRing,
    PayloadTampered,
    format_keys,
    keyring_from_settings,
    parse_keys,
)
from domain.verdicts import Verdict
from infra.embedded import free_port
from infra.stack import cli_environment, local_key_file

K1, K2 = os.urandom(32), os.urandom(32)
RING_1 = KeyRing({"k1": K1}, "k1")
RING_12 = KeyRing({"k1": K1, "k2": K2}, "k2")
RING_2 = KeyRing({"k2": K2}, "k2")
SECRET = "Pietersen, Jan; penningmeester@example.nl"


def b64(key: bytes, *, urlsafe: bool = False, padded: bool = True) -> str:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(key).decode()
    return text if padded else text.rstrip("=")


def plain(value: object) -> Payload:
    """A payload as it was written before encryption."""
    return DataConverter.default.payload_converter.to_payload(value)


def key_material(*keys: bytes) -> list[str]:
    """Every form in which a key could leak into a message."""
    return [form for key in keys for form in (b64(key), b64(key, urlsafe=True, padded=False), key.hex())]


def one_line_without_keys(message: str, *keys: bytes) -> str:
    assert "\n" not in message, message
    for form in key_material(*keys):
        assert form not in message, message
    return message


# -- the codec ---------------------------------------------------------------------------------------------------------


async def test_round_trip_restores_every_payload() -> None:
    codec = EncryptionCodec(RING_1)
    payloads = [plain(SECRET), plain({"amount": "15.00", "party": "C1"}), plain(None)]
    encoded = await codec.encode(payloads)
    assert len(encoded) == 3
    assert await codec.decode(encoded) == payloads


async def test_encrypted_payload_names_its_encoding_and_key_and_hides_the_plaintext() -> None:
    [original] = [plain(SECRET)]
    [first] = await EncryptionCodec(RING_1).encode([original])
    [second] = await EncryptionCodec(RING_1).encode([original])
    assert dict(first.metadata) == {"encoding": ENCODING, KEY_ID: b"k1"}
    assert b"Pietersen" not in first.SerializeToString()
    assert b"json/plain" not in first.data  # the original's metadata is encrypted with its data
    # 12-byte nonce + ciphertext + 16-byte tag; a fresh nonce each time, so equal inputs do not show as equal.
    assert len(first.data) == 12 + len(original.SerializeToString()) + 16
    assert first.data[:12] != second.data[:12] and first.data != second.data


async def test_payloads_written_before_the_codec_pass_through() -> None:
    old = [plain(SECRET), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await EncryptionCodec(RING_1).decode(old) == old


async def test_a_rotated_ring_reads_the_old_key_and_writes_the_new_one() -> None:
    [old] = await EncryptionCodec(RING_1).encode([plain(SECRET)])
    rotated = EncryptionCodec(RING_12)
    assert await rotated.decode([old]) == [plain(SECRET)]
    [new] = await rotated.encode([plain(SECRET)])
    assert new.metadata[KEY_ID] == b"k2"
    assert await EncryptionCodec(RING_2).decode([new]) == [plain(SECRET)]


async def test_a_missing_key_is_one_line_naming_its_id_and_what_to_do() -> None:
    [old] = await EncryptionCodec(RING_1).encode([plain(SECRET)])
    with pytest.raises(EncryptionKeyMissing) as info:
        await EncryptionCodec(RING_2).decode([old])
    message = one_line_without_keys(str(info.value), K1, K2)
    assert info.value.key_id == "k1"
    assert message.startswith("payload encrypted with key 'k1', which this process does not have: ")
    assert "add it to DUESFLOW_ENCRYPTION_KEYS" in message
    assert "retired only after every workflow started under them has closed" in message
    assert "retention" in message


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: d[:-1] + bytes([d[-1] ^ 1]), id="tag"),
        pytest.param(lambda d: d[:20] + bytes([d[20] ^ 0x80]) + d[21:], id="ciphertext"),
        pytest.param(lambda d: bytes([d[0] ^ 1]) + d[1:], id="nonce"),
        pytest.param(lambda d: d[:30], id="truncated"),
        pytest.param(lambda d: d[:5], id="shorter-than-a-nonce"),
    ],
)
async def test_a_tampered_payload_is_refused_naming_its_key(damage: object) -> None:
    [encrypted] = await EncryptionCodec(RING_1).encode([plain(SECRET)])
    encrypted.data = damage(encrypted.data)  # type: ignore[operator]
    with pytest.raises(PayloadTampered) as info:
        await EncryptionCodec(RING_1).decode([encrypted])
    message = one_line_without_keys(str(info.value), K1)
    assert "key 'k1' failed authentication" in message and SECRET not in message


async def test_another_key_under_the_same_id_is_refused() -> None:
    [encrypted] = await EncryptionCodec(RING_1).encode([plain(SECRET)])
    with pytest.raises(PayloadTampered):
        await EncryptionCodec(KeyRing({"k1": K2}, "k1")).decode([encrypted])


def test_a_key_ring_shows_its_ids_never_its_keys() -> None:
    text = repr(RING_12) + str(RING_12)
    assert text.startswith("KeyRing(ids=['k1', 'k2'], primary='k2')")
    for form in key_material(K1, K2):
        assert form not in text
    assert RING_12.ids == ["k1", "k2"]
    with pytest.raises(ValueError, match="primary key 'k3' is not in the ring"):
        KeyRing({"k1": K1}, "k3")
    with pytest.raises(ValueError, match="must be 32 bytes, not 16"):
        KeyRing({"k1": K1[:16]}, "k1")


# -- the converter -----------------------------------------------------------------------------------------------------


async def test_the_converter_encrypts_pydantic_values_and_failures() -> None:
    converter = data_converter(RING_1)
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    verdict = Verdict(status="accepted", workflow_id="s:Payment Entry:P1")
    [payload] = await converter.encode([verdict])
    assert payload.metadata["encoding"] == ENCODING and b"accepted" not in payload.data
    assert await converter.decode([payload], [Verdict]) == [verdict]

    failure = Failure()
    await converter.encode_failure(RuntimeError(f"member {SECRET} is not known"), failure)
    assert failure.message == "Encoded failure" and not failure.stack_trace
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    assert b"Pietersen" not in failure.SerializeToString()
    before = failure.SerializeToString()
    assert await failure_message(converter, failure) == f"member {SECRET} is not known"
    assert failure.SerializeToString() == before  # read, not decoded in place


async def test_raw_failures_get_their_messages_back_causes_included() -> None:
    converter = data_converter(RING_1)
    try:
        try:
            raise LookupError(f"no member {SECRET}")
        except LookupError as cause:
            raise RuntimeError("step failed") from cause
    except RuntimeError as error:
        failure = Failure()
        await converter.encode_failure(error, failure)
    assert (failure.message, failure.cause.message) == ("Encoded failure", "Encoded failure")
    untouched = Failure()
    untouched.message = "written before encryption"
    await reveal_failures(converter, [failure, untouched])
    assert (failure.message, failure.cause.message) == ("step failed", f"no member {SECRET}")
    assert "raise RuntimeError" in failure.stack_trace and not failure.HasField("encoded_attributes")
    assert untouched.message == "written before encryption"
    # Without the key, nothing is revealed: the missing key is named.
    again = Failure()
    await converter.encode_failure(RuntimeError("x"), again)
    with pytest.raises(EncryptionKeyMissing, match="'k1'"):
        await reveal_failures(data_converter(RING_2), [again])


async def test_a_readable_summary_is_a_plain_payload() -> None:
    summary = readable_summary("Payment Entry ACC-PAY-2025-00201 · €15.00 · SEPA Direct Debit")
    assert summary.metadata["encoding"] == b"json/plain"
    assert await data_converter(RING_1).decode([summary]) == [
        "Payment Entry ACC-PAY-2025-00201 · €15.00 · SEPA Direct Debit"
    ]


async def test_a_process_without_keys_refuses_before_connecting() -> None:
    nobody = f"127.0.0.1:{free_port()}"  # were it contacted, the error would be TemporalUnavailable
    with pytest.raises(ConfigError) as info:
        await connect_temporal(ring_settings(temporal_address=nobody))
    assert "no encryption keys: set DUESFLOW_ENCRYPTION_KEYS or DUESFLOW_ENCRYPTION_KEY_FILE" in str(info.value)
    one_line_without_keys(str(info.value))


# -- the key ring's configuration --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_encryption_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the test suite's own key (tests/conftest.py): each test names the configuration it reads."""
    for name in ("DUESFLOW_ENCRYPTION_KEYS", "DUESFLOW_ENCRYPTION_KEY_FILE", "DUESFLOW_ENCRYPTION_PRIMARY_KEY"):
        monkeypatch.delenv(name, raising=False)


def ring_settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def ring_of(keys: str | None = None, *, primary: str | None = None, file: Path | None = None) -> KeyRing:
    return keyring_from_settings(
        ring_settings(
            encryption_keys=SecretStr(keys) if keys is not None else None,
            encryption_key_file=str(file) if file else None,
            encryption_primary_key=primary,
        )
    )


def key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    "text",
    [
        f'{{"k1": "{b64(K1)}", "k2": "{b64(K2)}"}}',
        f"k1:{b64(K1)}, k2:{b64(K2)}",
        f" k1 : {b64(K1, urlsafe=True)} ,k2:{b64(K2, urlsafe=True, padded=False)}, ",
    ],
    ids=["json", "pairs", "urlsafe-and-unpadded"],
)
def test_keys_as_json_or_id_colon_base64_pairs(text: str) -> None:
    assert ring_of(text, primary="k2") == RING_12


def test_the_only_key_is_the_primary_by_default() -> None:
    assert ring_of(f"k1:{b64(K1)}") == RING_1


def test_keys_from_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    assert ring_of(file=key_file(tmp_path, format_keys({"k1": K1, "k2": K2})), primary="k2") == RING_12


@pytest.mark.parametrize(
    ("keys", "primary", "expected"),
    [
        (None, None, "no encryption keys: set DUESFLOW_ENCRYPTION_KEYS or DUESFLOW_ENCRYPTION_KEY_FILE"),
        (None, "k1", "no encryption keys: set DUESFLOW_ENCRYPTION_KEYS or DUESFLOW_ENCRYPTION_KEY_FILE"),
        ("", None, "DUESFLOW_ENCRYPTION_KEYS: is empty"),
        ("{}", None, "DUESFLOW_ENCRYPTION_KEYS: holds no key"),
        ('{"k1": ', None, "DUESFLOW_ENCRYPTION_KEYS: is not valid JSON"),
        (f'{{"k1": ["{b64(K1)}"]}}', None, "DUESFLOW_ENCRYPTION_KEYS: key 'k1' must be a base64 string"),
        (b64(K1), None, "DUESFLOW_ENCRYPTION_KEYS: entry 1 is not <key id>:<base64>"),
        (f"k1:{b64(K1)}, {b64(K2)}", None, "DUESFLOW_ENCRYPTION_KEYS: entry 2 is not <key id>:<base64>"),
        (f'{{"bad id!": "{b64(K1)}"}}', None, "DUESFLOW_ENCRYPTION_KEYS: entry 1: the key id must be a name"),
        (f'{{"{"x" * 65}": "{b64(K1)}"}}', None, "DUESFLOW_ENCRYPTION_KEYS: entry 1: the key id must be a name"),
        # The key where the id belongs (and the id where the key belongs): the key is not echoed.
        (f'{{"{b64(K1, urlsafe=True, padded=False)}": "k1"}}', None, "entry 1: the key id must be a name"),
        (f'{{"k1": "{b64(K1)}", "k1": "{b64(K2)}"}}', None, "DUESFLOW_ENCRYPTION_KEYS: key id 'k1' appears twice"),
        (f"k1:{b64(K1)},k1:{b64(K2)}", None, "DUESFLOW_ENCRYPTION_KEYS: key id 'k1' appears twice"),
        (f"k1:{b64(K1)[:-2]}*!", None, "DUESFLOW_ENCRYPTION_KEYS: key 'k1' is not base64"),
        (f"k1:{b64(K1[:16])}", None, "DUESFLOW_ENCRYPTION_KEYS: key 'k1' must be 32 random bytes in base64, not 16"),
        (
            f"k1:{b64(K1)}, k2:{b64(K2)}",
            None,
            "DUESFLOW_ENCRYPTION_PRIMARY_KEY: required with several keys (k1, k2): name the one that encrypts",
        ),
        (
            f"k1:{b64(K1)}",
            "k2",
            "DUESFLOW_ENCRYPTION_PRIMARY_KEY: 'k2' is not one of the keys in DUESFLOW_ENCRYPTION_KEYS (k1)",
        ),
        (
            f"k1:{b64(K1)}",
            b64(K1, urlsafe=True, padded=False),
            "DUESFLOW_ENCRYPTION_PRIMARY_KEY: must be the id of a key, not a key",
        ),
    ],
)
def test_a_bad_key_ring_is_one_line_naming_the_variable_and_no_key(
    keys: str | None, primary: str | None, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ring_of(keys, primary=primary)
    message = one_line_without_keys(str(info.value), K1, K2)
    assert message.startswith("invalid configuration: ")
    assert expected in message


def test_keys_in_the_variable_and_a_file_at_once_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DUESFLOW_ENCRYPTION_KEYS and DUESFLOW_ENCRYPTION_KEY_FILE are both set"):
        ring_of(f"k1:{b64(K1)}", file=key_file(tmp_path, format_keys({"k1": K1})))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, format_keys({"k1": K1}), mode)
    with pytest.raises(ConfigError) as info:
        ring_of(file=path)
    message = one_line_without_keys(str(info.value), K1)
    assert f"DUESFLOW_ENCRYPTION_KEY_FILE: {path} is open to its group or others (mode {mode:04o})" in message
    assert f"chmod 600 {path}" in message


def test_key_file_problems_name_the_variable_and_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(ConfigError, match=f"DUESFLOW_ENCRYPTION_KEY_FILE: {missing} does not exist"):
        ring_of(file=missing)
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match=f"DUESFLOW_ENCRYPTION_KEY_FILE: {folder} is not a file"):
        ring_of(file=folder)
    bad = key_file(tmp_path, f'{{"k1": "{b64(K1[:20])}"}}')
    with pytest.raises(ConfigError) as info:
        ring_of(file=bad)
    message = one_line_without_keys(str(info.value), K1)
    assert f"DUESFLOW_ENCRYPTION_KEY_FILE: {bad}: key 'k1' must be 32 random bytes in base64, not 20" in message
    with pytest.raises(ConfigError, match="'k9' is not one of the keys in DUESFLOW_ENCRYPTION_KEY_FILE"):
        ring_of(file=key_file(tmp_path, format_keys({"k1": K1})), primary="k9")


def test_parse_keys_is_the_inverse_of_format_keys() -> None:
    assert parse_keys(format_keys({"k2": K2, "k1": K1})) == {"k1": K1, "k2": K2}


def test_the_variables_are_settings_whose_keys_are_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUESFLOW_ENCRYPTION_KEYS", f"k1:{b64(K1)},k2:{b64(K2)}")
    monkeypatch.setenv("DUESFLOW_ENCRYPTION_PRIMARY_KEY", "k2")
    settings = load_settings()
    for form in key_material(K1, K2):
        assert form not in repr(settings) and form not in str(settings.model_dump())
    assert keyring_from_settings(settings) == RING_12
    # A child process (the background role, the stack's worker) gets the keys themselves.
    env = as_environment(settings)
    assert env["DUESFLOW_ENCRYPTION_KEYS"] == f"k1:{b64(K1)},k2:{b64(K2)}"
    assert env["DUESFLOW_ENCRYPTION_PRIMARY_KEY"] == "k2"
    monkeypatch.setenv("DUESFLOW_ENCRYPTION_PRIMARY_KEY", "not an id")
    with pytest.raises(ConfigError, match="DUESFLOW_ENCRYPTION_PRIMARY_KEY"):
        load_settings()


# -- the local stack's key ---------------------------------------------------------------------------------------------


def test_the_stack_makes_its_key_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = local_key_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert local_key_file(tmp_path) == path and path.read_text() == text  # a restart reads the same key
    ring = ring_of(file=path)
    assert len(ring.ids) == 1 and ring.ids[0].startswith("local-")
    settings = ring_settings(encryption_key_file=str(path))
    # The CLI in another shell is told where the keys are, never what they are.
    assert cli_environment(settings)["DUESFLOW_ENCRYPTION_KEY_FILE"] == str(path)
    assert all(text not in value for value in cli_environment(settings).values())
