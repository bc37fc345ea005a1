"""Payload encryption: a key ring and an AES-256-GCM payload codec, so workflow inputs, results, signals, queries,
updates, memos and (with the encoded-attributes failure converter, ``deployment/converter.py``) failure messages and
stack traces reach Temporal only encrypted.

The shape is the one Temporal's samples established: every payload is serialized whole, encrypted with the primary
key under a random 12-byte nonce, and sent as ``nonce + ciphertext`` with the metadata ``encoding: binary/encrypted``
and ``encryption-key-id: <id>``. Decoding picks the key by the payload's id, so a worker whose primary key moved on
still reads what the old key wrote; a payload without that encoding (written before the codec) passes through.

Keys come from the settings (``keyring_from_settings``): ``DUESFLOW_ENCRYPTION_KEYS`` or
``DUESFLOW_ENCRYPTION_KEY_FILE``, and ``DUESFLOW_ENCRYPTION_PRIMARY_KEY``. They are read once, when a process
connects: the codec runs inside the SDK's 2-second budget per workflow activation and never calls out. No message
here ever contains key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from config.settings import ConfigError, Settings
from domain.errors import DuesflowError

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12

KEYS_VARIABLE = "DUESFLOW_ENCRYPTION_KEYS"
FILE_VARIABLE = "DUESFLOW_ENCRYPTION_KEY_FILE"
PRIMARY_VARIABLE = "DUESFLOW_ENCRYPTION_PRIMARY_KEY"
# What an operator must know before taking a key out of the ring (README, Encryption keys).
RETIRE_RULE = (
    "keys may be retired only after every workflow started under them has closed and the namespace's retention "
    "has passed"
)


@dataclass(frozen=True)
class KeyRing:
    """Keys by id, and the id of the one that encrypts. Its repr names the ids only."""

    keys: Mapping[str, bytes] = field(repr=False)
    primary: str

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise ValueError("a key id must be 1-64 of A-Z a-z 0-9 . _ -")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
        if self.primary not in self.keys:
            raise ValueError(f"the primary key {self.primary!r} is not in the ring ({_ids(self.keys)})")
        object.__setattr__(self, "keys", dict(self.keys))

    @property
    def ids(self) -> list[str]:
        return sorted(self.keys)

    def __repr__(self) -> str:
        return f"KeyRing(ids={self.ids}, primary={self.primary!r})"


class EncryptionKeyMissing(ConfigError):
    """A payload was encrypted with a key this process does not have: its configuration lacks a key (a
    ``ConfigError``, so the CLI and the ERP's client report it as one). Deliberately not a Temporal
    ``ApplicationError``: a workflow task that cannot decode fails and is retried (the workflow waits, it does not
    fail), so adding the key back lets it go on."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(
            f"payload encrypted with key {key_id!r}, which this process does not have: add it to {KEYS_VARIABLE} "
            f"(or {FILE_VARIABLE}) and restart; {RETIRE_RULE}"
        )


class PayloadTampered(DuesflowError):
    """An encrypted payload failed authentication: it was altered, truncated, or encrypted under another key that
    carries the same id."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(
            f"payload encrypted with key {key_id!r} failed authentication: it was altered or truncated, or "
            f"{key_id!r} in this process is not the key that encrypted it"
        )


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM under the ring's primary key; decryption by the payload's key id."""

    def __init__(self, keyring: KeyRing) -> None:
        super().__init__()
        self.keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}
        self._primary = keyring.primary.encode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self.keyring.primary]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._primary},
                    data=nonce + cipher.encrypt(nonce, payload.SerializeToString(), None),
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode(payload) for payload in payloads]

    def _decode(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before the codec (or never encoded): readable as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionKeyMissing(key_id)
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
            raise PayloadTampered(key_id) from None
        return Payload.FromString(plain)


# -- reading the ring from the settings -------------------------------------------------------------------------------


def keyring_from_settings(settings: Settings) -> KeyRing:
    """The ring the settings name. ``ConfigError`` (one line, naming the variable, never a key) when there is none
    or it is malformed: a process without keys must not run unencrypted."""
    raw = settings.encryption_keys.get_secret_value() if settings.encryption_keys is not None else None
    path = settings.encryption_key_file
    if raw is not None and path is not None:
        raise _config(f"{KEYS_VARIABLE} and {FILE_VARIABLE} are both set: set one of them")
    if raw is not None:
        keys = _parse_or_fail(raw, KEYS_VARIABLE)
    elif path is not None:
        keys = _parse_or_fail(_read_key_file(Path(path)), f"{FILE_VARIABLE}: {path}")
    else:
        raise _config(
            f"no encryption keys: set {KEYS_VARIABLE} or {FILE_VARIABLE} (and {PRIMARY_VARIABLE} when there are "
            "several); see the README, Encryption keys"
        )
    primary = settings.encryption_primary_key
    if primary is None:
        if len(keys) > 1:
            raise _config(f"{PRIMARY_VARIABLE}: required with several keys ({_ids(keys)}): name the one that encrypts")
        [primary] = keys
    elif looks_like_key(primary):
        raise _config(f"{PRIMARY_VARIABLE}: must be the id of a key, not a key")
    elif primary not in keys:
        source = KEYS_VARIABLE if raw is not None else FILE_VARIABLE
        raise _config(f"{PRIMARY_VARIABLE}: {primary!r} is not one of the keys in {source} ({_ids(keys)})")
    return KeyRing(keys, primary)


def parse_keys(text: str) -> dict[str, bytes]:
    """``{"2026-12": "<base64>", …}`` (JSON) or ``2026-12:<base64>, 2027-06:<base64>``; keys are 32 bytes in
    standard or URL-safe base64. ``ValueError`` names the key id at fault, never the key."""
    text = text.strip()
    if not text:
        raise ValueError('is empty: give {"<key id>": "<32 bytes in base64>"} or <key id>:<base64>, …')
    if text.startswith("{"):
        try:
            pairs = json.loads(text, object_pairs_hook=list)
        except json.JSONDecodeError:
            raise ValueError('is not valid JSON: give {"<key id>": "<32 bytes in base64>", …}') from None
        if not isinstance(pairs, list):
            raise ValueError('must be a JSON object such as {"<key id>": "<32 bytes in base64>"}')
    else:
        pairs = []
        for position, item in enumerate((part.strip() for part in text.split(",")), start=1):
            if not item:
                continue
            key_id, colon, value = item.partition(":")
            if not colon:
                raise ValueError(f"entry {position} is not <key id>:<base64>")
            pairs.append((key_id.strip(), value.strip()))
    if not pairs:
        raise ValueError("holds no key")
    keys: dict[str, bytes] = {}
    for position, (key_id, value) in enumerate(pairs, start=1):
        # An id that is not one is not echoed: it may be a key given in the id's place.
        if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id) or looks_like_key(key_id):
            raise ValueError(f"entry {position}: the key id must be a name of 1-64 of A-Z a-z 0-9 . _ - (not a key)")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} appears twice")
        if not isinstance(value, str):
            raise ValueError(f"key {key_id!r} must be a base64 string")
        keys[key_id] = _key_bytes(key_id, value)
    return keys


def format_keys(keys: Mapping[str, bytes]) -> str:
    """The JSON text ``parse_keys`` reads: ``{"<key id>": "<base64>", …}`` (for a key file or the variable)."""
    return json.dumps({key_id: base64.b64encode(key).decode("ascii") for key_id, key in sorted(keys.items())})


def looks_like_key(text: str) -> bool:
    """Whether ``text`` is 32 bytes in base64: what must never be echoed where an id is expected."""
    try:
        return len(_base64(text)) == KEY_BYTES
    except ValueError:
        return False


def _base64(value: str) -> bytes:
    text = value.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        if re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", padded):
            return base64.b64decode(padded, validate=True)
        if re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", padded):
            return base64.urlsafe_b64decode(padded)
    except binascii.Error:
        pass
    raise ValueError("not base64")


def _key_bytes(key_id: str, value: str) -> bytes:
    try:
        key = _base64(value)
    except ValueError:
        raise ValueError(f"key {key_id!r} is not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"key {key_id!r} must be {KEY_BYTES} random bytes in base64, not {len(key)} bytes")
    return key


def _read_key_file(path: Path) -> str:
    """The file's text, if only its owner can read or write it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _config(f"{FILE_VARIABLE}: {path} does not exist") from None
    except OSError as exc:
        raise _config(f"{FILE_VARIABLE}: {path} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _config(f"{FILE_VARIABLE}: {path} is not a file")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise _config(
            f"{FILE_VARIABLE}: {path} is open to its group or others (mode {mode:04o}): make it readable by its "
            f"owner only (chmod 600 {path})"
        )
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _config(f"{FILE_VARIABLE}: {path} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise _config(f"{FILE_VARIABLE}: {path} is not UTF-8 text") from None


def _parse_or_fail(text: str, source: str) -> dict[str, bytes]:
    try:
        return parse_keys(text)
    except ValueError as exc:
        raise _config(f"{source}: {exc}") from None


def _config(problem: str) -> ConfigError:
    return ConfigError(f"invalid configuration: {problem}")


def _ids(keys: Mapping[str, bytes]) -> str:
    return ", ".join(sorted(keys))
