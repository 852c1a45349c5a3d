"""Target names: per-replica names from --target.name, defaults that keep proxied engines apart and never carry
credentials, and one name per target across flags and file."""

from __future__ import annotations

import pytest

from exporter.cli import _config, _run_parser
from exporter.config import ConfigError, default_name, from_flags, load


def test_target_name_flag_names_the_target_at_its_position():
    targets = from_flags(["http://127.0.0.1:8000", "http://127.0.0.1:8001"], None, "auto", "", ["vllm-7d9f-0"])
    assert [t.name for t in targets] == ["vllm-7d9f-0", "127.0.0.1:8001"]


def test_more_names_than_targets_is_a_config_error():
    with pytest.raises(ConfigError) as error:
        from_flags(["http://127.0.0.1:8000"], None, "auto", "", ["a", "b"])
    assert error.value.problems == ["--target.name: 2 names for 1 --target URL(s)"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://127.0.0.1:8000/metrics", "127.0.0.1:8000"),
        ("http://user:s3cret@10.0.0.5:8000/metrics", "10.0.0.5:8000"),
        ("http://proxy:80/engine-a/metrics", "proxy:80/engine-a"),
        ("http://[::1]:8000/metrics", "[::1]:8000"),
        ("https://trt:8000/prometheus/metrics", "trt:8000/prometheus"),
    ],
)
def test_default_name(url, name):
    assert default_name(url) == name


def test_two_engines_behind_one_proxy_get_distinct_default_names():
    config = load("targets:\n  - url: http://proxy/engine-a/metrics\n  - url: http://proxy/engine-b/metrics\n", "x.yml")
    assert [t.name for t in config.targets] == ["proxy/engine-a", "proxy/engine-b"]


def test_a_name_used_by_the_file_and_a_flag_is_a_clear_error(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("targets:\n  - url: http://127.0.0.1:8000\n    name: engine\n", encoding="utf-8")
    args = _run_parser().parse_args(
        ["--config.file", str(path), "--target", "http://127.0.0.1:9000", "--target.name", "engine"]
    )
    with pytest.raises(ConfigError) as error:
        _config(args)
    assert error.value.problems == [
        f"--target 127.0.0.1:9000: target name 'engine' is already used (in {path} or by an earlier --target); "
        "set --target.name"
    ]


def test_the_same_url_twice_on_the_command_line_is_a_clear_error():
    args = _run_parser().parse_args(["--target", "http://127.0.0.1:8000", "--target", "127.0.0.1:8000"])
    with pytest.raises(ConfigError) as error:
        _config(args)
    assert "target name '127.0.0.1:8000' is already used" in error.value.problems[0]
