"""Unit tests of ``deployment.temporal_config``: where the Temporal connection comes from (``TEMPORAL_*`` variables,
TOML profiles, the older ``DUESFLOW_TEMPORAL_*`` settings) and the one line for every way it can be wrong.

No server: environments are dicts, files are written to ``tmp_path``, certificates come from ``trustme``, and the
connect failures are the SDK's own messages as recorded against a real nginx (tests/infra/test_tls.py connects for
real).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import trustme
from temporalio.service import TLSConfig

from config.settings import ConfigError, Settings
from deployment.temporal_config import (
    ConnectOptions,
    TemporalRefused,
    connect_options,
    connection_error,
    explain_connection_error,
)
from domain.errors import TemporalUnavailable


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings() reads DUESFLOW_* of the machine: start without them."""
    for key in list(os.environ):
        if key.upper().startswith("DUESFLOW_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A private CA with a server and a client certificate, as PEM files."""
    where = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    client = ca.issue_cert("worker@duesflow.test")
    files = {"ca": where / "ca.pem", "cert": where / "client.pem", "key": where / "client.key"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    return files


def options(env: dict[str, str], **settings: str) -> ConnectOptions:
    return connect_options(Settings(**settings), env)  # type: ignore[arg-type]


def refused(env: dict[str, str], **settings: str) -> str:
    with pytest.raises(ConfigError) as caught:
        options(env, **settings)
    line = str(caught.value)
    assert "\n" not in line and line.startswith("invalid configuration: "), line
    return line


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- where the address and namespace come from ---------------------------------------------------------------------


def test_nothing_set_is_the_local_dev_server_in_plaintext() -> None:
    got = options({})
    assert (got.target, got.namespace, got.tls, got.api_key, got.rpc_metadata) == (
        "127.0.0.1:7233",
        "default",
        False,
        None,
        {},
    )
    assert got.target_source is None and got.namespace_source is None


def test_the_older_duesflow_settings_keep_working() -> None:
    got = options({}, temporal_address="temporal.internal:7233", temporal_namespace="leden")
    assert (got.target, got.namespace) == ("temporal.internal:7233", "leden")
    assert got.target_source == "DUESFLOW_TEMPORAL_ADDRESS"


def test_temporal_variables_are_read() -> None:
    got = options({"TEMPORAL_ADDRESS": "temporal.internal:7233", "TEMPORAL_NAMESPACE": "leden"})
    assert (got.target, got.namespace, got.target_source) == ("temporal.internal:7233", "leden", "TEMPORAL_ADDRESS")


def test_both_names_agreeing_is_fine_and_disagreeing_is_refused() -> None:
    same = options({"TEMPORAL_ADDRESS": "t.internal:7233"}, temporal_address="t.internal:7233")
    assert same.target == "t.internal:7233"
    line = refused({"TEMPORAL_NAMESPACE": "prod"}, temporal_namespace="staging")
    assert "TEMPORAL_NAMESPACE says 'prod'" in line and "DUESFLOW_TEMPORAL_NAMESPACE says 'staging'" in line


def test_a_profile_disagreeing_with_the_duesflow_setting_is_refused(tmp_path: Path) -> None:
    file = write(tmp_path / "t.toml", '[profile.prod]\naddress = "prod.internal:7233"\n')
    line = refused({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod"}, temporal_address="127.0.0.1:7233")
    assert "address in [profile.prod] of TEMPORAL_CONFIG_FILE=" in line and "DUESFLOW_TEMPORAL_ADDRESS" in line


@pytest.mark.parametrize("address", ["http://t.internal:7233", "t.internal", "t.internal:99999", "t internal:1"])
def test_an_address_that_is_not_host_port_is_refused(address: str) -> None:
    line = refused({"TEMPORAL_ADDRESS": address})
    assert "TEMPORAL_ADDRESS" in line and "is not host:port" in line


def test_ipv6_and_cloud_addresses_are_host_port() -> None:
    assert options({"TEMPORAL_ADDRESS": "[::1]:7233"}).target == "[::1]:7233"
    assert options({"TEMPORAL_ADDRESS": "dues.a1b2c.tmprl.cloud:7233"}).target == "dues.a1b2c.tmprl.cloud:7233"


# -- TLS, API key, metadata ----------------------------------------------------------------------------------------


def test_an_api_key_turns_tls_on_and_stays_out_of_repr_and_describe() -> None:
    got = options({"TEMPORAL_API_KEY": "sk-very-secret", "TEMPORAL_NAMESPACE": "dues.a1b2c"})
    assert got.api_key == "sk-very-secret" and got.tls is True and got.api_key_source == "TEMPORAL_API_KEY"
    assert "sk-very-secret" not in repr(got) and "sk-very-secret" not in got.describe()
    assert got.connect_kwargs()["api_key"] == "sk-very-secret"
    assert options({"TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": "false"}).tls is False


def test_an_api_key_with_a_line_break_is_refused() -> None:
    assert "the API key holds spaces, a line break" in refused({"TEMPORAL_API_KEY": "sk-secret\n"})


def test_server_tls_with_a_private_ca_and_mtls(pki: dict[str, Path]) -> None:
    got = options(
        {
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki["ca"]),
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki["cert"]),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki["key"]),
            "TEMPORAL_TLS_SERVER_NAME": "temporal.internal",
        }
    )
    assert isinstance(got.tls, TLSConfig)
    assert got.tls.server_root_ca_cert == pki["ca"].read_bytes() and got.tls.domain == "temporal.internal"
    assert got.tls.client_private_key == pki["key"].read_bytes()
    assert got.ca_source == f"TEMPORAL_TLS_SERVER_CA_CERT_PATH={pki['ca']}"
    assert "PRIVATE KEY" not in repr(got) and "client certificate from TEMPORAL_TLS_CLIENT_CERT_PATH" in got.describe()


def test_tls_true_alone_uses_the_system_cas() -> None:
    got = options({"TEMPORAL_TLS": "true"})
    assert isinstance(got.tls, TLSConfig) and got.tls.server_root_ca_cert is None and "system CAs" in got.describe()


def test_pem_data_in_variables(pki: dict[str, Path]) -> None:
    got = options({"TEMPORAL_TLS_SERVER_CA_CERT_DATA": pki["ca"].read_text()})
    assert isinstance(got.tls, TLSConfig) and got.tls.server_root_ca_cert == pki["ca"].read_bytes()
    assert got.ca_source == "TEMPORAL_TLS_SERVER_CA_CERT_DATA"


def test_grpc_metadata() -> None:
    assert options({"TEMPORAL_GRPC_META_X_TENANT": "leden"}).rpc_metadata == {"x-tenant": "leden"}


def test_a_missing_certificate_file_is_named_before_anything_connects(tmp_path: Path) -> None:
    line = refused({"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(tmp_path / "ca.pem")})
    assert line == f"invalid configuration: TEMPORAL_TLS_SERVER_CA_CERT_PATH={tmp_path / 'ca.pem'}: no such file"


def test_a_file_that_is_not_pem_is_refused(tmp_path: Path, pki: dict[str, Path]) -> None:
    junk = write(tmp_path / "ca.der", "not a certificate")
    assert "not a PEM CA certificate" in refused({"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(junk)})
    line = refused({"TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki["cert"]), "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki["ca"])})
    assert "TEMPORAL_TLS_CLIENT_KEY_PATH" in line and "not a PEM client private key" in line


def test_a_client_certificate_needs_its_key(pki: dict[str, Path]) -> None:
    line = refused({"TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki["cert"])})
    assert "no client private key" in line and "TEMPORAL_TLS_CLIENT_KEY_PATH" in line


def test_tls_switched_off_with_tls_settings_is_refused(pki: dict[str, Path]) -> None:
    line = refused({"TEMPORAL_TLS": "false", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki["ca"])})
    assert "TEMPORAL_TLS=false switches TLS off, yet TEMPORAL_TLS_SERVER_CA_CERT_PATH" in line


@pytest.mark.parametrize("value", ["yes", "on", "no", " true"])
def test_tls_must_be_true_or_false(value: str) -> None:
    # envconfig would read each of these as "TLS on".
    assert "TEMPORAL_TLS must be true or false" in refused({"TEMPORAL_TLS": value})


def test_disabling_host_verification_is_refused_not_ignored(tmp_path: Path) -> None:
    assert "is not supported" in refused({"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"})
    assert options({"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "false"}).tls is False
    file = write(tmp_path / "t.toml", "[profile.prod.tls]\ndisable_host_verification = true\n")
    line = refused({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod"})
    assert "disable_host_verification in [profile.prod.tls]" in line


def test_misspelt_and_empty_variables_are_refused() -> None:
    assert "TEMPORAL_TLS_CA_PATH is not a Temporal connection variable" in refused({"TEMPORAL_TLS_CA_PATH": "/x"})
    assert "did you mean TEMPORAL_ADDRESS?" in refused({"TEMPORAL_ADRESS": "t.internal:7233"})
    assert "TEMPORAL_NAMESPACE is set but empty" in refused({"TEMPORAL_NAMESPACE": ""})
    assert options({"TEMPORAL_CLI_SHOW_STACKS": "1"}).target == "127.0.0.1:7233"  # other tools' variables pass


# -- profile files -------------------------------------------------------------------------------------------------


def prod_profile(tmp_path: Path, pki: dict[str, Path], extra: str = "") -> Path:
    return write(
        tmp_path / "temporal.toml",
        f"""
[profile.default]
address = "127.0.0.1:7233"

[profile.prod]
address = "temporal.internal:7233"
namespace = "leden"
{extra}
[profile.prod.tls]
server_ca_cert_path = "{pki["ca"]}"
client_cert_path = "{pki["cert"]}"
client_key_path = "{pki["key"]}"
""",
    )


def test_a_profile_with_mtls(tmp_path: Path, pki: dict[str, Path]) -> None:
    file = prod_profile(tmp_path, pki)
    got = options({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod"})
    assert (got.target, got.namespace) == ("temporal.internal:7233", "leden")
    assert isinstance(got.tls, TLSConfig) and got.tls.client_cert == pki["cert"].read_bytes()
    assert got.target_source == f"address in [profile.prod] of TEMPORAL_CONFIG_FILE={file}"
    assert got.ca_source == f'server_ca_cert_path = "{pki["ca"]}" in [profile.prod.tls] of TEMPORAL_CONFIG_FILE={file}'
    # The environment wins over the file, value by value.
    over = options({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod", "TEMPORAL_NAMESPACE": "other"})
    assert (over.target, over.namespace) == ("temporal.internal:7233", "other")


def test_the_default_profile_and_the_default_file(tmp_path: Path, pki: dict[str, Path]) -> None:
    home = tmp_path / "home"
    (home / ".config" / "temporalio").mkdir(parents=True)
    prod_profile(home / ".config" / "temporalio", pki)
    assert options({"HOME": str(home)}).target_source == (
        f"address in [profile.default] of {home}/.config/temporalio/temporal.toml"
    )
    assert options({"HOME": str(home), "TEMPORAL_PROFILE": "prod"}).namespace == "leden"
    # /dev/null: read no file at all (a process that must not see the CLI's profiles).
    assert options({"HOME": str(home), "TEMPORAL_CONFIG_FILE": os.devnull}).target_source is None


def test_an_unknown_key_is_refused_with_where_tls_keys_go(tmp_path: Path, pki: dict[str, Path]) -> None:
    file = prod_profile(tmp_path, pki, extra='tls_client_cert_data = "…"\n')
    line = refused({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod"})
    assert f"TEMPORAL_CONFIG_FILE={file}: line 8: unknown field `tls_client_cert_data`" in line
    assert "[profile.prod.tls]" in line
    typo = write(tmp_path / "typo.toml", '[profile.prod.tls]\nserver_ca_cert_pat = "/x"\n')
    assert "unknown field `server_ca_cert_pat`" in refused({"TEMPORAL_CONFIG_FILE": str(typo)})


def test_malformed_toml_names_the_file_and_line(tmp_path: Path) -> None:
    file = write(tmp_path / "t.toml", '[profile.prod\naddress = "x:1"\n')
    line = refused({"TEMPORAL_CONFIG_FILE": str(file)})
    assert f"TEMPORAL_CONFIG_FILE={file}: not valid TOML" in line and "line 1" in line


def test_a_wrong_type_names_the_line(tmp_path: Path) -> None:
    file = write(tmp_path / "t.toml", "[profile.default]\naddress = 7233\n")
    assert "line 2: invalid type: integer `7233`, expected a string" in refused({"TEMPORAL_CONFIG_FILE": str(file)})


def test_a_missing_file_or_profile_is_refused(tmp_path: Path, pki: dict[str, Path]) -> None:
    missing = tmp_path / "nope.toml"
    assert refused({"TEMPORAL_CONFIG_FILE": str(missing)}) == (
        f"invalid configuration: TEMPORAL_CONFIG_FILE={missing}: no such file"
    )
    assert "a directory" in refused({"TEMPORAL_CONFIG_FILE": str(tmp_path)})
    file = prod_profile(tmp_path, pki)
    line = refused({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "staging"})
    assert "TEMPORAL_PROFILE=staging" in line and "has no [profile.staging] (its profiles: default, prod)" in line
    assert "set TEMPORAL_CONFIG_FILE" in refused({"TEMPORAL_PROFILE": "prod"})  # and no file at all


def test_a_missing_certificate_of_a_profile_names_the_key_and_file(tmp_path: Path) -> None:
    file = write(tmp_path / "t.toml", '[profile.prod.tls]\nserver_ca_cert_path = "/nowhere/ca.pem"\n')
    line = refused({"TEMPORAL_CONFIG_FILE": str(file), "TEMPORAL_PROFILE": "prod"})
    assert line == (
        f'invalid configuration: server_ca_cert_path = "/nowhere/ca.pem" in [profile.prod.tls] of '
        f"TEMPORAL_CONFIG_FILE={file}: no such file"
    )


def test_path_and_data_together_are_refused(tmp_path: Path, pki: dict[str, Path]) -> None:
    line = refused({"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki["ca"]), "TEMPORAL_TLS_SERVER_CA_CERT_DATA": "x"})
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_CA_CERT_DATA" in line


# -- connect failures, as the SDK reports them ---------------------------------------------------------------------

PREFIX = "Failed client connect: "
TRANSPORT = PREFIX + "Server connection error: tonic::transport::Error(Transport, ConnectError({}))"
AFTER = PREFIX + "`get_system_info` call error after connection: Status {{ code: {}, message: {}, source: None }}"
HTML = '"protocol error: received message with invalid compression flag: 60 (valid flags are 0 and 1) while receiving response with status: {}"'  # noqa: E501
SIGNATURES = {
    "wrong CA": TRANSPORT.format("Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }"),
    "wrong name": TRANSPORT.format(
        'Custom { kind: InvalidData, error: InvalidCertificate(NotValidForNameContext { expected: DnsName("temporal.'
        'example.com"), presented: ["IpAddress(127.0.0.1)", "DnsName(\\"localhost\\")"] }) }'
    ),
    "TLS to plaintext": TRANSPORT.format("Custom { kind: InvalidData, error: InvalidMessage(InvalidContentType) }"),
    "plaintext to TLS": PREFIX + "`get_system_info` call error after connection: Status { code: Internal, message: "
    '"h2 protocol error: http2 error", source: Some(tonic::transport::Error(Transport, hyper::Error(Http2, Error { '
    'kind: GoAway(b"", FRAME_SIZE_ERROR, Library) }))) }',
    "plaintext to TLS, closed": PREFIX + "`get_system_info` call error after connection: Status { code: Cancelled, "
    'message: "operation was canceled", source: Some(tonic::transport::Error(Transport, hyper::Error(Canceled, '
    '"connection closed"))) }',
    "proxy 400": AFTER.format("Internal", HTML.format("400 Bad Request")),
    "proxy 401": AFTER.format("Internal", HTML.format("401 Unauthorized")),
    "grpc unauthenticated": AFTER.format("Unauthenticated", '"Request unauthorized."'),
    "alert certificate required": TRANSPORT.format(
        "Custom { kind: InvalidData, error: AlertReceived(CertificateRequired) }"
    ),
    "alert bad certificate": TRANSPORT.format("Custom { kind: InvalidData, error: AlertReceived(BadCertificate) }"),
    "refused": TRANSPORT.format(
        'ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: ConnectionRefused, message: '
        '"Connection refused" })'
    ),
    "dns": TRANSPORT.format(
        'ConnectError("dns error", Custom { kind: Uncategorized, error: "failed to lookup address information" })'
    ),
}


def explain(name: str, opts: ConnectOptions) -> str:
    line = explain_connection_error(RuntimeError(SIGNATURES[name]), opts)
    assert "\n" not in line and line.startswith(f"Temporal at {opts.target}"), line
    return line


TLS_CA = ConnectOptions(
    "127.0.0.1:7443",
    "default",
    tls=TLSConfig(server_root_ca_cert=b"pem"),
    ca_source="TEMPORAL_TLS_SERVER_CA_CERT_PATH=/ca",
)
MTLS = ConnectOptions(
    "127.0.0.1:7443",
    "default",
    tls=TLSConfig(server_root_ca_cert=b"pem", client_cert=b"c", client_private_key=b"k"),
    ca_source="TEMPORAL_TLS_SERVER_CA_CERT_PATH=/ca",
    client_cert_source="TEMPORAL_TLS_CLIENT_CERT_PATH=/client.pem",
)
KEY = ConnectOptions(
    "dues.a1b2c.tmprl.cloud:7233", "dues.a1b2c", api_key="k", tls=True, api_key_source="TEMPORAL_API_KEY"
)
PLAIN = ConnectOptions("127.0.0.1:7233", "default", target_source="DUESFLOW_TEMPORAL_ADDRESS")


def test_a_wrong_ca_names_the_ca_it_used() -> None:
    line = explain("wrong CA", TLS_CA)
    assert "not signed by a CA this process trusts (trusted: TEMPORAL_TLS_SERVER_CA_CERT_PATH=/ca)" in line
    assert "the system's CAs" in explain("wrong CA", KEY)


def test_a_wrong_server_name_lists_the_names_of_the_certificate() -> None:
    line = explain("wrong name", TLS_CA)
    assert "not issued for the name temporal.example.com (it names 127.0.0.1, localhost)" in line
    assert "TEMPORAL_TLS_SERVER_NAME" in line


def test_tls_on_one_side_only() -> None:
    assert "does not speak TLS" in explain("TLS to plaintext", TLS_CA)
    assert "an API key turns TLS on" in explain("TLS to plaintext", KEY)
    assert "if it expects TLS, set TEMPORAL_TLS=true" in explain("plaintext to TLS", PLAIN)
    assert "if it expects TLS, set TEMPORAL_TLS=true" in explain("plaintext to TLS, closed", PLAIN)


def test_a_missing_or_refused_client_certificate() -> None:
    assert "requires a client certificate (mTLS) and none was given" in explain("proxy 400", TLS_CA)
    assert "requires a client certificate (mTLS) and none was given" in explain("alert certificate required", TLS_CA)
    assert "did not accept the client certificate from TEMPORAL_TLS_CLIENT_CERT_PATH=/client.pem" in explain(
        "proxy 400", MTLS
    )
    assert "did not accept the client certificate" in explain("alert bad certificate", MTLS)


def test_a_refused_or_missing_api_key() -> None:
    line = explain("grpc unauthenticated", KEY)
    assert "refused the API key from TEMPORAL_API_KEY (Request unauthorized.)" in line and "dues.a1b2c" in line
    assert "refused the API key from TEMPORAL_API_KEY:" in explain("proxy 401", KEY)
    assert "requires credentials: set TEMPORAL_API_KEY" in explain("proxy 401", TLS_CA)


def test_nothing_there_is_temporal_unavailable_naming_the_variable() -> None:
    error = connection_error(RuntimeError(SIGNATURES["refused"]), PLAIN)
    assert type(error) is TemporalUnavailable
    assert str(error) == (
        "Temporal at 127.0.0.1:7233 is unreachable (is the server running? set DUESFLOW_TEMPORAL_ADDRESS to its "
        "host:port)"
    )
    assert "set TEMPORAL_ADDRESS" in explain("refused", ConnectOptions("127.0.0.1:7233", "default"))
    assert "cannot resolve host dues.a1b2c.tmprl.cloud" in explain("dns", KEY)


def test_refusals_are_temporal_unavailable_and_survive_pickling() -> None:
    error = connection_error(RuntimeError(SIGNATURES["wrong CA"]), TLS_CA)
    assert isinstance(error, TemporalRefused) and isinstance(error, TemporalUnavailable)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.address == "127.0.0.1:7443"


def test_anything_else_is_one_line_with_the_sdk_reason() -> None:
    line = explain_connection_error(RuntimeError(PREFIX + "something new\nand more"), TLS_CA)
    assert line.startswith("Temporal at 127.0.0.1:7443: could not connect (127.0.0.1:7443, namespace default, TLS")
    assert line.endswith("something new")
