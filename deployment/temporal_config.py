"""Where this process's Temporal is and how to reach it: the ``TEMPORAL_*`` variables and TOML profiles that the
``temporal`` CLI reads too (``temporalio.envconfig``), with duesflow's older ``DUESFLOW_TEMPORAL_ADDRESS`` /
``DUESFLOW_TEMPORAL_NAMESPACE`` as fallbacks.

``connect_options(settings)`` reads them once (files included, so a missing certificate fails before anything
connects) and refuses every problem with one ``ConfigError`` line naming the variable or the file;
``explain_connection_error`` turns the SDK's transport errors (an untrusted certificate, a missing client
certificate, TLS against a plaintext port and back, a refused API key, no server) into one line naming the address
and what to check; ``connect_client`` does both around ``Client.connect``.

Precedence, per value:

- address: ``TEMPORAL_ADDRESS``, else the profile's ``address``, else ``DUESFLOW_TEMPORAL_ADDRESS``, else
  ``127.0.0.1:7233``; namespace likewise (``TEMPORAL_NAMESPACE``, profile, ``DUESFLOW_TEMPORAL_NAMESPACE``,
  ``default``). When a ``DUESFLOW_`` one is set (by the environment or by the caller's ``Settings``) and the
  ``TEMPORAL_`` variable or the profile gives another value, nothing connects: one line names both.
- API key, TLS and gRPC metadata: envconfig's own rule, the variable over the profile. An API key turns TLS on
  unless ``TEMPORAL_TLS=false``.
- the file: ``TEMPORAL_CONFIG_FILE`` (which must exist; ``/dev/null`` reads none), else the CLI's default file when
  it exists (``$XDG_CONFIG_HOME/temporalio/temporal.toml``, ``~/.config/…`` on Linux); the profile:
  ``TEMPORAL_PROFILE`` (which must exist in the file), else ``default`` (may be absent). Unknown keys are errors
  (strict parsing): a TLS key belongs under ``[profile.NAME.tls]``.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from config.settings import ConfigError, Settings
from domain.errors import TemporalUnavailable

# The connection variables of temporalio.envconfig (and the temporal CLI), besides TEMPORAL_GRPC_META_<NAME>.
VARIABLES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_PROFILE",
)
_TRUE, _FALSE = ("true", "1"), ("false", "0")  # what envconfig reads as a boolean (any case)
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")

# The three PEM pieces: (envconfig attribute, variable stem, profile key stem, what it is, PEM marker).
_PIECES = (
    ("server_root_ca_cert", "TEMPORAL_TLS_SERVER_CA_CERT", "server_ca_cert", "CA certificate", "CERTIFICATE-----"),
    ("client_cert", "TEMPORAL_TLS_CLIENT_CERT", "client_cert", "client certificate", "CERTIFICATE-----"),
    ("client_private_key", "TEMPORAL_TLS_CLIENT_KEY", "client_key", "client private key", "PRIVATE KEY-----"),
)


@dataclass(frozen=True)
class ConnectOptions:
    """What ``Client.connect`` needs (``connect_kwargs()``), and where each part came from, for error lines.

    Secrets (the API key, the client key inside ``tls``, metadata such as authorization headers) never appear in
    ``repr``; ``describe()`` names their sources only."""

    target: str
    namespace: str
    api_key: str | None = field(default=None, repr=False)
    tls: bool | TLSConfig = field(default=False, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Where each came from: a variable ("TEMPORAL_ADDRESS"), a file's key ("address in [profile.prod] of …"), or
    # None for duesflow's default.
    target_source: str | None = None
    namespace_source: str | None = None
    api_key_source: str | None = None
    ca_source: str | None = None
    client_cert_source: str | None = None

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``temporalio.client.Client.connect``."""
        return {
            "target_host": self.target,
            "namespace": self.namespace,
            "api_key": self.api_key,
            "tls": self.tls,
            "rpc_metadata": dict(self.rpc_metadata),
        }

    @property
    def uses_tls(self) -> bool:
        return self.tls is not False

    def describe(self) -> str:
        """``127.0.0.1:7443, namespace default, TLS (CA from TEMPORAL_TLS_SERVER_CA_CERT_PATH=…), API key from
        TEMPORAL_API_KEY``: for logs and error lines, without secrets."""
        parts = [self.target, f"namespace {self.namespace}"]
        if self.uses_tls:
            tls = [f"CA from {self.ca_source}" if self.ca_source else "system CAs"]
            if self.client_cert_source:
                tls.append(f"client certificate from {self.client_cert_source}")
            parts.append(f"TLS ({', '.join(tls)})")
        else:
            parts.append("plaintext")
        if self.api_key:
            parts.append(f"API key from {self.api_key_source}")
        return ", ".join(parts)


def default_config_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The temporal CLI's default profile file on this platform (whether or not it exists), located by ``environ``'s
    HOME / XDG_CONFIG_HOME / APPDATA (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    if sys.platform == "win32":
        base = env.get("APPDATA")
        return Path(base) / "temporalio" / "temporal.toml" if base else None
    if sys.platform == "darwin":
        home = env.get("HOME")
        return Path(home) / "Library" / "Application Support" / "temporalio" / "temporal.toml" if home else None
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "temporalio" / "temporal.toml"
    home = env.get("HOME")
    return Path(home) / ".config" / "temporalio" / "temporal.toml" if home else None


def connect_options(settings: Settings, environ: Mapping[str, str] | None = None) -> ConnectOptions:
    """The Temporal to connect to, from ``environ`` (default ``os.environ``), the profile file it names, and
    ``settings`` (``DUESFLOW_TEMPORAL_ADDRESS`` / ``_NAMESPACE``). Reads the certificate files now. ``ConfigError``
    (one line naming the variable or the file) for anything wrong; contacts nothing."""
    env = dict(os.environ if environ is None else environ)
    _check_variables(env)
    file, file_label = _config_file(env)
    profile_name = env.get("TEMPORAL_PROFILE") or "default"
    _check_file(file, file_label, profile_name, explicit="TEMPORAL_PROFILE" in env)
    if env.get("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "").lower() in _FALSE:
        # Does nothing in Python, yet envconfig would take it for a TLS setting and turn TLS on.
        env.pop("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", None)
    try:
        profile = ClientConfigProfile.load(
            profile=env.get("TEMPORAL_PROFILE"),  # None: "default", which may be absent
            config_source=file,
            disable_file=file is None,
            config_file_strict=True,
            override_env_vars=env,
        )
    except RuntimeError as exc:  # temporalio's bridge ConfigError
        raise ConfigError(_loading_problem(str(exc), file_label, profile_name)) from None

    where = f"[profile.{profile_name}] of {file_label}"
    target, target_source = _resolve(env, "TEMPORAL_ADDRESS", profile.address, f"address in {where}", settings)
    if not _HOST_PORT.match(target) or not 0 < int(target.rpartition(":")[2]) < 65536:
        raise ConfigError(
            f"invalid configuration: {target_source or 'the Temporal address'}: {target!r} is not host:port "
            "(e.g. temporal.internal:7233 or <namespace>.<account>.tmprl.cloud:7233, no scheme)"
        )
    namespace, namespace_source = _resolve(
        env, "TEMPORAL_NAMESPACE", profile.namespace, f"namespace in {where}", settings
    )

    api_key_source = None
    if profile.api_key:
        api_key_source = "TEMPORAL_API_KEY" if env.get("TEMPORAL_API_KEY") else f"api_key in {where}"
        if not re.fullmatch(r"[\x21-\x7e]+", profile.api_key):  # it travels as an HTTP header value
            raise ConfigError(
                f"invalid configuration: {api_key_source}: the API key holds spaces, a line break or other "
                "characters no key has (pasted with a newline?)"
            )
    tls, ca_source, client_cert_source = _tls(profile, env, where)
    if profile.api_key and tls is None:
        tls = True  # envconfig's rule: an API key turns TLS on unless TLS is switched off
    return ConnectOptions(
        target=target,
        namespace=namespace,
        api_key=profile.api_key or None,
        tls=False if tls is None else tls,
        rpc_metadata=dict(profile.grpc_meta),
        target_source=target_source,
        namespace_source=namespace_source,
        api_key_source=api_key_source,
        ca_source=ca_source,
        client_cert_source=client_cert_source,
    )


def _check_variables(env: Mapping[str, str]) -> None:
    """What envconfig would read wrongly or silently ignore."""
    for name in sorted(env):
        if not name.startswith("TEMPORAL_"):
            continue
        if name in VARIABLES or name.startswith("TEMPORAL_GRPC_META_"):
            if env[name] == "":
                raise ConfigError(f"invalid configuration: {name} is set but empty: give it a value or unset it")
            continue
        close = difflib.get_close_matches(name, VARIABLES, n=1, cutoff=0.85)
        if name.startswith("TEMPORAL_TLS_") or close:
            hint = f"; did you mean {close[0]}?" if close else f" (they are: {', '.join(VARIABLES[4:12])})"
            raise ConfigError(f"invalid configuration: {name} is not a Temporal connection variable{hint}")
    for name in ("TEMPORAL_TLS", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"):
        value = env.get(name)
        if value is not None and value.lower() not in _TRUE + _FALSE:
            raise ConfigError(f"invalid configuration: {name} must be true or false, not {value!r}")
    if env.get("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "").lower() in _TRUE:
        raise ConfigError(_NO_HOST_VERIFICATION.format(what="TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"))


_NO_HOST_VERIFICATION = (
    "invalid configuration: {what} is not supported (the Python SDK always verifies the server's certificate): give "
    "the CA that signed it in TEMPORAL_TLS_SERVER_CA_CERT_PATH and a name it is issued for in TEMPORAL_TLS_SERVER_NAME"
)


def _config_file(env: Mapping[str, str]) -> tuple[Path | None, str]:
    """The profile file to read (None: none) and how to name it in a message."""
    named = env.get("TEMPORAL_CONFIG_FILE")
    if named:
        path = Path(named)
        if not path.exists():
            raise ConfigError(f"invalid configuration: TEMPORAL_CONFIG_FILE={named}: no such file")
        if path.is_dir():
            raise ConfigError(f"invalid configuration: TEMPORAL_CONFIG_FILE={named}: a directory, not a TOML file")
        return path, f"TEMPORAL_CONFIG_FILE={named}"
    default = default_config_file(env)
    if default is not None and default.is_file():
        return default, str(default)
    return None, f"no profile file (TEMPORAL_CONFIG_FILE unset, {default or 'no default location'} absent)"


def _check_file(file: Path | None, label: str, profile: str, *, explicit: bool) -> None:
    """The file's syntax, the named profile's presence, and what envconfig would accept silently."""
    if file is None:
        if explicit:
            raise ConfigError(f"invalid configuration: TEMPORAL_PROFILE={profile}: {label}; set TEMPORAL_CONFIG_FILE")
        return
    try:
        data = tomllib.loads(file.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"invalid configuration: {label}: cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"invalid configuration: {label}: not valid TOML: {exc}") from None
    profiles = data.get("profile") if isinstance(data.get("profile"), dict) else {}
    if explicit and profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            f"invalid configuration: TEMPORAL_PROFILE={profile}: {label} has no [profile.{profile}] "
            f"(its profiles: {known})"
        )
    raw = profiles.get(profile)
    tls = raw.get("tls") if isinstance(raw, dict) else None
    if isinstance(tls, dict) and tls.get("disable_host_verification") is True:
        raise ConfigError(
            _NO_HOST_VERIFICATION.format(what=f"disable_host_verification in [profile.{profile}.tls] of {label}")
        )


def _loading_problem(message: str, file_label: str, profile: str) -> str:
    """envconfig's loading error as one line: ``FILE: line 4: unknown field `tls_client_cert_data`, …``."""
    parse = re.match(r"Configuration loading error: TOML parse error at line (\d+), column \d+\n(.*)", message, re.S)
    if parse:
        lines = [ln for ln in parse.group(2).splitlines() if ln.strip() and not ln.lstrip().startswith(("|", "^"))]
        problem = lines[-1].strip() if lines else "cannot be read"
        line = f"invalid configuration: {file_label}: line {parse.group(1)}: {problem}"
        if re.search(r"unknown field `tls_", problem):
            line += f'; TLS settings go in their own table, [profile.{profile}.tls], as server_ca_cert_path = "…"'
        return line
    problem = re.sub(r"^(Configuration loading error|Invalid configuration): ", "", message.strip()).splitlines()[0]
    if "TEMPORAL_" in problem:  # about the variables (perhaps against the file), which it names
        return f"invalid configuration: {problem}"
    return f"invalid configuration: {file_label}: {problem}"


def _resolve(
    env: Mapping[str, str], variable: str, loaded: str | None, loaded_source: str, settings: Settings
) -> tuple[str, str | None]:
    """A value by the precedence above (the variable, the profile, the DUESFLOW_ setting, its default) and its
    source (None: the default); a DUESFLOW_ setting that disagrees with the first two is refused."""
    new_value, new_source = None, None
    if env.get(variable):
        new_value, new_source = env[variable], variable
    elif loaded:
        new_value, new_source = loaded, loaded_source
    setting = variable.lower()  # TEMPORAL_ADDRESS -> the setting temporal_address
    old_name = f"DUESFLOW_{variable}"
    old_value = getattr(settings, setting) if setting in settings.model_fields_set else None
    if new_value is not None and old_value is not None and new_value != old_value:
        raise ConfigError(
            f"invalid configuration: {new_source} says {new_value!r} but {old_name} says {old_value!r}: set only "
            f"{variable} or the profile ({old_name} is the older name of {variable})"
        )
    if new_value is not None:
        return new_value, new_source
    if old_value is not None:
        return old_value, old_name
    return getattr(settings, setting), None


def _tls(
    profile: ClientConfigProfile, env: Mapping[str, str], where: str
) -> tuple[TLSConfig | bool | None, str | None, str | None]:
    """The TLS to use (None: not configured), and where its CA and client certificate came from. Every certificate
    is read and checked to be PEM now."""
    tls = profile.tls
    if tls is None:
        return None, None, None
    table = where.replace("]", ".tls]", 1)
    pem: dict[str, bytes | None] = {}
    sources: dict[str, str | None] = {}
    for attribute, variable, key, what, marker in _PIECES:
        value = getattr(tls, attribute)
        if value is None:
            pem[attribute] = sources[attribute] = None
            continue
        if isinstance(value, Path):
            source = f"{variable}_PATH={value}" if env.get(f"{variable}_PATH") else f'{key}_path = "{value}" in {table}'
            try:
                data = value.read_bytes()
            except FileNotFoundError:
                raise ConfigError(f"invalid configuration: {source}: no such file") from None
            except OSError as exc:
                raise ConfigError(f"invalid configuration: {source}: cannot be read ({exc.strerror})") from None
        else:
            source = f"{variable}_DATA" if env.get(f"{variable}_DATA") else f"{key}_data in {table}"
            data = value.encode() if isinstance(value, str) else value
        if b"-----BEGIN " not in data or marker.encode() not in data:
            raise ConfigError(f"invalid configuration: {source}: not a PEM {what} (no '-----BEGIN …{marker}' line)")
        pem[attribute], sources[attribute] = data, source
    has_cert, has_key = pem["client_cert"] is not None, pem["client_private_key"] is not None
    if has_cert != has_key:
        given, missing = ("CLIENT_CERT", "CLIENT_KEY") if has_cert else ("CLIENT_KEY", "CLIENT_CERT")
        raise ConfigError(
            f"invalid configuration: {sources['client_cert'] or sources['client_private_key']} is given but no "
            f"{'client private key' if has_cert else 'client certificate'}: mTLS needs both "
            f"(TEMPORAL_TLS_{given}_PATH and TEMPORAL_TLS_{missing}_PATH)"
        )
    if tls.disabled is True:
        configured = [s for s in sources.values() if s] + (["TEMPORAL_TLS_SERVER_NAME"] if tls.server_name else [])
        if configured:
            off = "TEMPORAL_TLS=false" if env.get("TEMPORAL_TLS") else f"disabled = true in {table}"
            raise ConfigError(f"invalid configuration: {off} switches TLS off, yet {configured[0]} is set: drop one")
        return False, None, None
    config = TLSConfig(
        server_root_ca_cert=pem["server_root_ca_cert"],
        domain=tls.server_name,
        client_cert=pem["client_cert"],
        client_private_key=pem["client_private_key"],
    )
    return config, sources["server_root_ca_cert"], sources["client_cert"]


# -- connecting ---------------------------------------------------------------------------------------------------


class TemporalRefused(TemporalUnavailable):
    """The address answered, but the connection could not be used: TLS or credentials do not match the server.
    A ``TemporalUnavailable`` (callers handle it alike), whose message is the whole line saying what to check."""

    def __init__(self, address: str, line: str) -> None:
        self.address = address
        self.detail = line
        Exception.__init__(self, line)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.address, self.detail))


def _address_hint(options: ConnectOptions) -> str:
    source = options.target_source
    if source is None:
        return "set TEMPORAL_ADDRESS to its host:port"
    if source.startswith("address in "):
        return f"check the {source}"
    return f"set {source} to its host:port"


def connection_error(exc: BaseException, options: ConnectOptions) -> TemporalUnavailable:
    """The SDK's connect failure as duesflow's error: ``TemporalUnavailable`` when nothing answered at the address,
    ``TemporalRefused`` (a ``TemporalUnavailable``) when TLS or credentials did not match. One line each."""
    text = str(exc)
    at = f"Temporal at {options.target}"
    ca = options.ca_source or "the system's CAs (TEMPORAL_TLS_SERVER_CA_CERT_PATH is not set)"
    cert = options.client_cert_source

    def refused(line: str) -> TemporalRefused:
        return TemporalRefused(options.target, line)

    # Nothing there (or not reachable): the old message, naming the variable that gave the address.
    if "dns error" in text:
        host = options.target.rpartition(":")[0]
        return TemporalUnavailable(options.target, f"cannot resolve host {host}; {_address_hint(options)}")
    if "tcp connect error" in text or "ConnectionRefused" in text or re.search(r"timed out|TimedOut|Elapsed", text):
        return TemporalUnavailable(options.target, f"is the server running? {_address_hint(options)}")

    # The server's certificate.
    if "UnknownIssuer" in text:
        return refused(
            f"{at}: its TLS certificate is not signed by a CA this process trusts (trusted: {ca}); set "
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA certificate that signed the server's certificate"
        )
    if "NotValidForName" in text:
        names = ", ".join(re.findall(r'(?:IpAddress|DnsName)\(\\?"?([^"\\)]+)', text.split("presented:", 1)[-1]))
        expected = re.search(r'expected: \w+\(\\?"?([^"\\)]+)', text)
        name = expected.group(1) if expected else options.target.rpartition(":")[0]
        return refused(
            f"{at}: its TLS certificate is not issued for the name {name}"
            + (f" (it names {names})" if names else "")
            + "; connect by one of its names or set TEMPORAL_TLS_SERVER_NAME to one"
        )
    if "InvalidCertificate" in text:
        reason = re.search(r"InvalidCertificate\((\w+)", text)
        return refused(
            f"{at}: its TLS certificate was refused ({reason.group(1) if reason else 'invalid'}); trusted: {ca}"
        )
    if "PrivateKeyParseError" in text:
        return refused(f"{at}: the client private key from {cert} could not be read; give the PEM key of that cert")

    # TLS on one side only.
    if options.uses_tls and ("InvalidContentType" in text or "InvalidMessage" in text or "CorruptMessage" in text):
        why = " (an API key turns TLS on; TEMPORAL_TLS=false turns it off)" if options.api_key else ""
        return refused(
            f"{at} does not speak TLS (is it a plaintext port?){why}: connect to its TLS port, or set "
            "TEMPORAL_TLS=false"
        )
    # (a TLS port read as HTTP/2 ends in a protocol error or a closed connection, whichever comes first)
    plaintext_failures = ("h2 protocol error", "FRAME_SIZE_ERROR", "GoAway", '"connection closed"')
    if not options.uses_tls and any(failure in text for failure in plaintext_failures):
        return refused(
            f"{at} did not answer plaintext gRPC: if it expects TLS, set TEMPORAL_TLS=true (and "
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA); otherwise check it is the frontend's gRPC port, not "
            "the Web UI's"
        )

    # The client's certificate: a TLS server that checks it (alert), or a proxy that answers HTTP 400 to it.
    alert = re.search(r"AlertReceived\((\w+)\)", text)
    http = re.search(r"status: (\d{3})", text) if "invalid compression flag" in text else None
    if (alert and alert.group(1) == "CertificateRequired") or (http and http.group(1) == "400" and not cert):
        return refused(
            f"{at} requires a client certificate (mTLS) and none was given: set TEMPORAL_TLS_CLIENT_CERT_PATH and "
            "TEMPORAL_TLS_CLIENT_KEY_PATH to one signed by the CA it trusts"
        )
    if (alert and alert.group(1) in _CLIENT_CERT_ALERTS) or (http and http.group(1) == "400"):
        return refused(
            f"{at} did not accept the client certificate from {cert}: use one signed by the CA it trusts "
            "(TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)"
        )
    if alert:
        return refused(f"{at} ended the TLS handshake ({alert.group(1)}); trusted: {ca}; client certificate: {cert}")

    # Credentials: a gRPC refusal (Temporal, Temporal Cloud) or an HTTP one (a proxy in front of it).
    code = re.search(r"code: (Unauthenticated|PermissionDenied)\b", text)
    if code or (http and http.group(1) in ("401", "403")):
        said = re.search(r'message: "([^"]*)"', text) if code else None
        why = f" ({said.group(1)})" if said and said.group(1) and "compression flag" not in said.group(1) else ""
        if options.api_key:
            return refused(
                f"{at} refused the API key from {options.api_key_source}{why}: check it is valid, not expired, and "
                f"allowed on namespace {options.namespace}"
            )
        return refused(
            f"{at} requires credentials{why}: set TEMPORAL_API_KEY (Temporal Cloud: an API key of namespace "
            f"{options.namespace}) or a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH, _KEY_PATH)"
        )
    if http:
        return refused(
            f"{at} answered HTTP {http.group(1)} instead of gRPC: is it the Temporal frontend's gRPC port (not the Web "
            "UI, not a web proxy)?"
        )
    if "peer closed connection without sending TLS close_notify" in text or "ConnectionReset" in text:
        if not options.uses_tls:
            return refused(f"{at} closed the connection: if it expects TLS, set TEMPORAL_TLS=true")
        if not cert:
            return refused(
                f"{at} closed the TLS connection: if it requires a client certificate (mTLS), set "
                "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"
            )
        return refused(f"{at} closed the TLS connection: does it accept the client certificate from {cert}?")
    first = text.removeprefix("Failed client connect: ").splitlines()[0] if text else type(exc).__name__
    return refused(f"{at}: could not connect ({options.describe()}): {first[:300]}")


# rustls's names of the alerts a server sends when it refuses the client's certificate.
_CLIENT_CERT_ALERTS = frozenset(
    {
        "BadCertificate",
        "UnknownCA",
        "CertificateUnknown",
        "UnsupportedCertificate",
        "CertificateRevoked",
        "CertificateExpired",
        "AccessDenied",
    }
)


def explain_connection_error(exc: BaseException, options: ConnectOptions) -> str:
    """One line naming the address and what to check, for any connect failure of the SDK."""
    return str(connection_error(exc, options))


async def connect_client(
    settings: Settings,
    *,
    data_converter: DataConverter | None = None,
    runtime: Runtime | None = None,
    environ: Mapping[str, str] | None = None,
) -> Client:
    """``Client.connect`` with ``connect_options(settings, environ)``: ``ConfigError`` before connecting, then
    ``TemporalUnavailable`` (nothing answered) or ``TemporalRefused`` (TLS or credentials), each one line."""
    options = connect_options(settings, environ)
    extra: dict[str, Any] = {"runtime": runtime}
    if data_converter is not None:
        extra["data_converter"] = data_converter
    try:
        return await Client.connect(**options.connect_kwargs(), **extra)
    except RuntimeError as exc:  # the SDK reports every connect failure as RuntimeError("Failed client connect: …")
        if "connect" not in str(exc).lower():
            raise
        raise connection_error(exc, options) from None
