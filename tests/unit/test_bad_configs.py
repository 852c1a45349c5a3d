"""Every YAML file the project reads, the blackbox_exporter way: one file per bad config under
tests/fixtures/config/, each with the exact problems it must be reported with.

invalid-web-*.yml are web configs (--web.config.file), invalid-rules-*.yml rule settings
(`llm-exporter generate alerts --settings`), every other invalid-*.yml an exporter config (--config.file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter import config, webconfig
from exporter.config import ConfigError
from exporter.mixin import rules, settings

FOLDER = Path(__file__).resolve().parents[1] / "fixtures" / "config"

EXPECTED = {
    "invalid-duplicate-target-name.yml": ["invalid-duplicate-target-name.yml:4: targets[1].name: 'x' is used twice"],
    "invalid-engine-type.yml": [
        "invalid-engine-type.yml:3: targets[0].engine_type: must be one of auto, vllm, aphrodite, lmdeploy, sglang, "
        "tgi, llamacpp, triton, trtllm, nim, dynamo, got 'vllmm'"
    ],
    "invalid-gpu-enabled.yml": [
        "invalid-gpu-enabled.yml:2: gpu.enabled: must be one of auto, true, false, got 'maybe'"
    ],
    "invalid-gpu-devices.yml": [
        "invalid-gpu-devices.yml:2: gpu.devices: must be auto, engine, all or a comma-separated list of GPU indices "
        "or UUIDs (GPU-…), got 'node'"
    ],
    "invalid-gpu-interval.yml": ["invalid-gpu-interval.yml:2: gpu.interval: must be a duration like \"5s\", got '0s'"],
    "invalid-histogram-buckets.yml": [
        "invalid-histogram-buckets.yml:3: targets[0].histogram_buckets: must be one of canonical, native, got 'some'"
    ],
    "invalid-max-response-bytes.yml": [
        "invalid-max-response-bytes.yml:3: targets[0].max_response_bytes: must be a size like \"16MiB\", got 'lots'"
    ],
    "invalid-target-without-url.yml": ["invalid-target-without-url.yml:2: targets[0].url: is required"],
    "invalid-targets-not-a-list.yml": ["invalid-targets-not-a-list.yml:2: targets: must be a list"],
    "invalid-timeout-exceeds-interval.yml": [
        "invalid-timeout-exceeds-interval.yml:4: targets[0].timeout: must not exceed the interval"
    ],
    "invalid-timeout-not-a-duration.yml": [
        "invalid-timeout-not-a-duration.yml:3: targets[0].timeout: must be a duration like \"5s\", got 'five'"
    ],
    "invalid-unknown-defaults-field.yml": [
        "invalid-unknown-defaults-field.yml:2: defaults.intervall: unknown field (allowed: engine_type, interval, "
        "timeout, max_response_bytes, sample_limit, histogram_buckets)"
    ],
    "invalid-unknown-target-field.yml": [
        "invalid-unknown-target-field.yml:3: targets[0].colour: unknown field (allowed: url, name, engine_type, model, "
        "interval, timeout, max_response_bytes, sample_limit, histogram_buckets, bearer_token_file, tls_config)"
    ],
    "invalid-top-level-list.yml": ["invalid-top-level-list.yml:1: the file: must be a mapping"],
    "invalid-unknown-top-level-field.yml": [
        "invalid-unknown-top-level-field.yml:2: extra: unknown field (allowed: defaults, targets, gpu)"
    ],
    "invalid-url-scheme.yml": [
        "invalid-url-scheme.yml:2: targets[0].url: must be an http(s) URL, got 'ftp://127.0.0.1/metrics'"
    ],
    "invalid-yaml.yml": ["invalid-yaml.yml:3: not valid YAML: expected the node content, but found '<stream end>'"],
    "invalid-web-cert-file-missing.yml": [
        "invalid-web-cert-file-missing.yml:2: tls_server_config.cert_file: no such file 'no-such.crt'"
    ],
    "invalid-url-port.yml": [
        "invalid-url-port.yml:2: targets[0].url: must be an http(s) URL with a port from 1 to 65535, got "
        "'http://127.0.0.1:99999'"
    ],
    "invalid-sample-limit.yml": [
        "invalid-sample-limit.yml:3: targets[0].sample_limit: must be a whole number (0 for no limit), got 'many'"
    ],
    "invalid-web-http-server-config.yml": [
        "invalid-web-http-server-config.yml:2: http_server_config: not supported by llm-exporter (it serves HTTP/1.1 "
        "and sets no custom headers); remove it"
    ],
    "invalid-web-unverified-client-auth.yml": [
        "invalid-web-unverified-client-auth.yml:4: tls_server_config.client_auth_type: RequireAnyClientCert is not "
        "supported: Python's TLS verifies every client certificate, so use VerifyClientCertIfGiven or "
        "RequireAndVerifyClientCert with client_ca_file"
    ],
    "invalid-web-client-auth-type.yml": [
        "invalid-web-client-auth-type.yml:4: tls_server_config.client_auth_type: must be one of NoClientCert, "
        "VerifyClientCertIfGiven, RequireAndVerifyClientCert"
    ],
    "invalid-web-client-ca-required.yml": [
        "invalid-web-client-ca-required.yml:2: tls_server_config.client_ca_file: is required with client_auth_type "
        "RequireAndVerifyClientCert"
    ],
    "invalid-web-missing-key-file.yml": ["invalid-web-missing-key-file.yml:2: tls_server_config.key_file: is required"],
    "invalid-web-plain-password.yml": [
        "invalid-web-plain-password.yml:2: basic_auth_users.alice: must be a bcrypt hash ($2y$…)"
    ],
    "invalid-web-tls-version.yml": [
        "invalid-web-tls-version.yml:4: tls_server_config.min_version: must be one of TLS10, TLS11, TLS12, TLS13"
    ],
    "invalid-web-unknown-field.yml": [
        "invalid-web-unknown-field.yml:4: tls_server_config.certfile: unknown field (allowed: cert_file, key_file, "
        "client_auth_type, client_ca_file, min_version, max_version)"
    ],
    "invalid-target-tls-ca-file-missing.yml": [
        "invalid-target-tls-ca-file-missing.yml:4: targets[0].tls_config.ca_file: no such file 'no-such-ca.pem'"
    ],
    "invalid-target-tls-ca-not-a-certificate.yml": [
        "invalid-target-tls-ca-not-a-certificate.yml:4: targets[0].tls_config.ca_file: 'test-key.pem' holds no PEM "
        "certificate"
    ],
    "invalid-target-tls-cert-without-key.yml": [
        "invalid-target-tls-cert-without-key.yml:4: targets[0].tls_config.key_file: is required with cert_file"
    ],
    "invalid-target-tls-skip-verify.yml": [
        "invalid-target-tls-skip-verify.yml:4: targets[0].tls_config.insecure_skip_verify: must be true or false, "
        "got 'yes'"
    ],
    "invalid-target-tls-unknown-field.yml": [
        "invalid-target-tls-unknown-field.yml:4: targets[0].tls_config.ca: unknown field (allowed: ca_file, cert_file, "
        "key_file, server_name, insecure_skip_verify)"
    ],
    "invalid-web-cert-key-swapped.yml": [
        "invalid-web-cert-key-swapped.yml:2: tls_server_config.cert_file: 'test-key.pem' holds no PEM certificate",
        "invalid-web-cert-key-swapped.yml:3: tls_server_config.key_file: 'test-cert.pem' holds no PEM private key",
    ],
    "invalid-web-client-ca-file-missing.yml": [
        "invalid-web-client-ca-file-missing.yml:5: tls_server_config.client_ca_file: no such file 'no-such-ca.pem'"
    ],
    "invalid-web-not-utf8.yml": ["invalid-web-not-utf8.yml: cannot read: not UTF-8 text (byte 23)"],
    "invalid-web-tls-version-order.yml": [
        "invalid-web-tls-version-order.yml:4: tls_server_config.min_version: TLS13 is above max_version TLS12"
    ],
    "invalid-rules-boolean.yml": ["invalid-rules-boolean.yml:2: queue.waiting: booleans are not settings here"],
    "invalid-rules-burn-window.yml": [
        "invalid-rules-burn-window.yml:3: slo.burn_windows[0]: missing severity, short, factor, for"
    ],
    "invalid-rules-duration.yml": [
        "invalid-rules-duration.yml:2: availability.engine_down_for: must be a duration like \"5m\", got 'two minutes'"
    ],
    # Checked after loading, against the schema's buckets: the message names no file (yet).
    "invalid-rules-not-a-bucket-bound.yml": [
        "slo.ttft_seconds: 2.2 is not a bucket bound (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.2, 0.25, "
        "0.4, 0.5, 0.6, 0.75, 0.8, 1.0, 2.0, 2.5, 4.0, 5.0, 6.0, 7.5, 8.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, "
        "160.0, 200.0, 400.0, 640.0, 2560.0)"
    ],
    "invalid-rules-section-not-a-mapping.yml": ["invalid-rules-section-not-a-mapping.yml:1: queue: must be a mapping"],
    "invalid-rules-type.yml": ["invalid-rules-type.yml:2: queue.waiting: must be int, got str"],
    "invalid-rules-unknown-setting.yml": [
        "invalid-rules-unknown-setting.yml:2: queue.waitng: unknown setting (known: waiting, queue_time_seconds, "
        "queue_time_quantile, window, for, sustained_waiting, sustained_for, p99_seconds, min_dequeues)"
    ],
}


def _problems(name: str) -> list[str]:
    """The problems loading `name` (relative to the fixtures folder) reports, through the loader of its kind."""
    try:
        if name.startswith("invalid-web-"):
            webconfig.load_file(name)
        elif name.startswith("invalid-rules-"):
            rules.build(settings.load(Path(name)))
        else:
            config.load_file(name)
    except ConfigError as error:
        return list(error.problems)
    except settings.SettingsError as error:
        return str(error).splitlines()
    raise AssertionError(f"{name} loaded without a problem")


def test_every_bad_config_file_has_its_expected_message() -> None:
    assert sorted(path.name for path in FOLDER.glob("invalid-*.yml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_config_is_reported_exactly(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative paths make the messages independent of where the repository is checked out.
    monkeypatch.chdir(FOLDER)
    assert _problems(name) == EXPECTED[name]
