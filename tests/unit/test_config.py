"""Config files: every problem reported at once with file, line and field; each message pinned."""

from __future__ import annotations

import pytest

from exporter import cli
from exporter.config import ENGINE_TYPES, ConfigError, load, load_file
from exporter.engines import ENGINES

GOOD = """\
defaults:
  interval: 10s
  timeout: 2s
targets:
  - url: http://127.0.0.1:8000
  - url: http://10.0.0.5:30000/metrics
    name: sglang-a
    engine_type: sglang
    model: llama-3
    histogram_buckets: native
    max_response_bytes: 8MiB
gpu:
  enabled: "false"
  interval: 15s
  devices: 1, GPU-f9a02833-d56a-03e3-329e-049d9caff784
"""


def test_good_config():
    config = load(GOOD, "exporter.yml")
    first, second = config.targets
    assert (first.url, first.name, first.interval, first.timeout) == (
        "http://127.0.0.1:8000/metrics",
        "127.0.0.1:8000",
        10.0,
        2.0,
    )
    assert (second.name, second.engine_type, second.model, second.histogram_buckets, second.max_response_bytes) == (
        "sglang-a",
        "sglang",
        "llama-3",
        "native",
        8 << 20,
    )
    assert second.base_url == "http://10.0.0.5:30000"
    assert (config.gpu.enabled, config.gpu.interval) == ("false", 15.0)
    assert config.gpu.devices == "1,GPU-f9a02833-d56a-03e3-329e-049d9caff784"


def test_every_problem_at_once_with_line_and_field():
    text = """\
targets:
  - url: http://127.0.0.1:8000
    timeout: five
    engine_type: vllmm
  - name: no-url
  - url: ftp://x
    colour: blue
  - url: http://127.0.0.1:9000
    interval: 1s
    timeout: 2s
gpu:
  enabled: maybe
extra: 1
"""
    with pytest.raises(ConfigError) as error:
        load(text, "exporter.yml")
    assert error.value.problems == [
        "exporter.yml:3: targets[0].timeout: must be a duration like \"5s\", got 'five'",
        "exporter.yml:4: targets[0].engine_type: must be one of auto, vllm, aphrodite, lmdeploy, sglang, tgi, "
        "llamacpp, triton, trtllm, nim, dynamo, got 'vllmm'",
        "exporter.yml:5: targets[1].url: is required",
        "exporter.yml:6: targets[2].url: must be an http(s) URL, got 'ftp://x'",
        "exporter.yml:7: targets[2].colour: unknown field (allowed: url, name, engine_type, model, interval, timeout, "
        "max_response_bytes, sample_limit, histogram_buckets, bearer_token_file, tls_config)",
        "exporter.yml:10: targets[3].timeout: must not exceed the interval",
        "exporter.yml:12: gpu.enabled: must be one of auto, true, false, got 'maybe'",
        "exporter.yml:13: extra: unknown field (allowed: defaults, targets, gpu)",
    ]


def test_invalid_yaml_names_the_line():
    with pytest.raises(ConfigError) as error:
        load("targets:\n  - url: [\n", "bad.yml")
    assert error.value.problems[0].startswith("bad.yml:3: not valid YAML")


def test_duplicate_target_names():
    with pytest.raises(ConfigError) as error:
        load("targets:\n  - url: http://a:1\n    name: x\n  - url: http://b:1\n    name: x\n", "c.yml")
    assert error.value.problems == ["c.yml:4: targets[1].name: 'x' is used twice"]


def test_missing_file():
    with pytest.raises(ConfigError) as error:
        load_file("/nonexistent/exporter.yml")
    assert error.value.problems[0].startswith("/nonexistent/exporter.yml: cannot read:")


def test_empty_file_is_an_empty_config():
    assert load("", "empty.yml").targets == ()


def test_engine_types_are_auto_and_the_engine_tables() -> None:
    assert ("auto", *ENGINES) == ENGINE_TYPES


@pytest.mark.parametrize(
    ("devices", "targets", "collector_gets"),
    [
        ("auto", ["http://127.0.0.1:8000"], "engine"),  # beside its engine: the engine's own GPUs
        ("auto", [], "all"),  # a GPU-only exporter: every GPU of the node
        ("all", ["http://127.0.0.1:8000"], "all"),
        ("0,GPU-x", [], ["0", "GPU-x"]),
    ],
)
def test_gpu_devices_auto_is_the_engines_gpus_beside_a_target(devices, targets, collector_gets) -> None:
    flags = [arg for url in targets for arg in ("--target", url)]
    config = cli._config(cli._run_parser().parse_args([*flags, "--gpu.devices", devices]))
    assert cli.collector_devices(config) == collector_gets


def test_compound_durations_as_prometheus_writes_them():
    # review-2026-11-qa §12: `1m30s` and `1d` were rejected, though configs copied from Prometheus use them.
    config = load(
        "defaults: {timeout: 1m}\ntargets: [{url: 127.0.0.1:8000, interval: 1m30s}]\ngpu: {interval: 1d}\n", "c.yml"
    )
    assert (config.targets[0].interval, config.targets[0].timeout, config.gpu.interval) == (90.0, 60.0, 86_400.0)


def test_a_short_interval_alone_brings_the_timeout_down_with_it():
    # review-2026-11-qa §12: `interval: 1s` alone was rejected as `timeout: must not exceed the interval`.
    config = load(
        "defaults: {interval: 2s}\ntargets: [{url: 127.0.0.1:8000, interval: 1s}, {url: 127.0.0.1:8001}]\n", "c.yml"
    )
    assert [(t.interval, t.timeout) for t in config.targets] == [(1.0, 1.0), (2.0, 2.0)]
    assert load("targets: [{url: 127.0.0.1:8000, interval: 10s}]\n", "c.yml").targets[0].timeout == 4.0
