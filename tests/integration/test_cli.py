"""The command line: run, check-config, probe and --help, as a user would call them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.http_server import EngineStub, respond, stall
from tests.support.pki import Exporter
from tests.support.ports import free_port

FIXTURES = Path(__file__).parents[1] / "fixtures" / "engines"
VLLM = (FIXTURES / "vllm-0.32.0-cpu-live.prom").read_bytes()


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_help_explains_flags_and_subcommands():
    done = _cli("--help")
    assert done.returncode == 0
    for word in ("--target", "--config.file", "--web.listen-address", "check-config", "probe", "generate"):
        assert word in done.stdout


def test_check_config_reports_all_problems(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("targets:\n  - url: http://127.0.0.1:8000\n    interval: fast\n  - name: x\n")
    done = _cli("check-config", str(path))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{path}:3: targets[0].interval: must be a duration like \"5s\", got 'fast'",
        f"{path}:4: targets[1].url: is required",
    ]


def test_check_config_ok(tmp_path):
    path = tmp_path / "exporter.yml"
    path.write_text("targets:\n  - url: http://127.0.0.1:8000\n")
    done = _cli("check-config", str(path))
    assert done.returncode == 0
    assert "OK, 1 target(s)" in done.stdout


def test_probe_prints_engine_mapped_values_and_unmapped():
    with EngineStub(respond(VLLM)) as stub:
        done = _cli("probe", stub.url)
    assert done.returncode == 0, done.stderr
    assert "engine:   vllm" in done.stdout
    assert "llm_kv_cache_usage_ratio (gauge)" in done.stdout
    assert 'llm_prefix_cache_hits_tokens_total{model="tiny",dp_rank="0"} 2688' in done.stdout
    assert "unmapped engine families (0):" in done.stdout
    assert " ms (fetch + parse + map)" in done.stdout


def test_probe_unknown_engine_lists_unmapped():
    with EngineStub(respond(b"# TYPE foo_requests gauge\nfoo_requests 3\n")) as stub:
        done = _cli("probe", stub.url)
    assert done.returncode == 0
    assert "engine:   unknown" in done.stdout and "  foo_requests" in done.stdout


def test_probe_failure_is_one_clear_line():
    done = _cli("probe", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert done.stderr.startswith("llm-exporter probe: cannot connect to http://127.0.0.1:")


def test_bad_flags_exit_2():
    assert _cli("--target", "ftp://x").returncode == 2
    assert _cli("--web.listen-address", "nonsense", "--gpu", "false").returncode == 2
    # No abbreviations (review-2026-11-qa §23): `--targ` must not quietly mean --target, nor `--conf` --config.file.
    abbreviated = _cli("--targ", "127.0.0.1:8000", "--gpu", "false")
    assert abbreviated.returncode == 2 and "unrecognized arguments: --targ" in abbreviated.stderr


def test_daemon_serves_endpoints_and_metrics_never_waits_on_a_hung_engine():
    port = free_port()
    with EngineStub(respond(VLLM)) as healthy, EngineStub(stall(30)) as hung:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "--target",
                healthy.url,
                "--target",
                hung.url,
                "--gpu",
                "false",
                "--scrape.interval",
                "1s",
                "--web.listen-address",
                f"127.0.0.1:{port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            assert httpx.get(f"{base}/-/healthy").text == "Healthy\n"
            assert "llm-exporter" in httpx.get(f"{base}/").text
            with httpx.Client() as client:
                for _ in range(5):
                    started = time.monotonic()
                    response = client.get(f"{base}/metrics", timeout=5)
                    # The hung engine holds its poll for its whole timeout; /metrics must not wait for it.
                    assert time.monotonic() - started < 2.0
            assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert f'llm_exporter_target_up{{engine_type="unknown",target="{hung.url[7:]}"}} 0' in response.text
            assert 'llm_requests_running{dp_rank="0",engine_type="vllm",model="tiny"' in response.text
            assert httpx.get(f"{base}/nope").status_code == 404
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr


def test_output_closed_early_is_one_line_and_a_non_zero_exit(tmp_path):
    # As `llm-exporter check-config big.yml | head -1`: more output than a pipe holds, and a reader that leaves.
    config = tmp_path / "many.yml"
    config.write_text("targets:\n" + "".join(f"  - url: http://127.0.0.1:{8000 + i}\n" for i in range(5000)))
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "check-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == f"{config}: OK, 5000 target(s)\n"
    process.stdout.close()
    with process.stderr:
        assert process.stderr.read() == "llm-exporter: output closed early (broken pipe)\n"
    assert process.wait(timeout=30) == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read: No such file or directory"),
        ("folder", "cannot read: Is a directory"),
        (b"queue: {waiting: '\xff'}\n", "cannot read: not UTF-8 text (byte 18)"),
        (b"queue: [\n", "2: not valid YAML: expected the node content, but found '<stream end>'"),
    ],
)
def test_a_bad_settings_file_is_one_line_and_exit_1(tmp_path, content, problem):
    settings = tmp_path / "settings.yml"
    if content == "folder":
        settings.mkdir()
    elif isinstance(content, bytes):
        settings.write_bytes(content)
    done = _cli("generate", "alerts", "--settings", str(settings), "--out", str(tmp_path / "out"))
    assert (done.returncode, done.stderr) == (1, f"{settings}:{'' if problem[0].isdigit() else ' '}{problem}\n")


def test_a_web_config_that_is_not_utf8_is_one_line_and_exit_2(tmp_path):
    web = tmp_path / "web.yml"
    web.write_bytes(b"basic_auth_users:\n  caf\xe9: '$2y$10$x'\n")
    done = _cli(
        "--web.config.file", str(web), "--target", "127.0.0.1:9", "--web.listen-address", f"127.0.0.1:{free_port()}"
    )
    assert (done.returncode, done.stderr) == (2, f"{web}: cannot read: not UTF-8 text (byte 23)\n")


def test_every_line_the_exporter_logs_is_logfmt():
    from tests.unit.test_logfmt import parse_logfmt

    exporter = Exporter("--target", f"http://admin:S3cret@127.0.0.1:{free_port()}", "--log.level", "debug")
    exporter.wait_listening()
    time.sleep(1.5)
    lines = exporter.stop().splitlines()
    fields = [parse_logfmt(line) for line in lines]
    assert {"listening", "polling", "target"} <= {f["msg"].split(" ", 1)[0] for f in fields}
    assert all(f.keys() >= {"ts", "level", "logger", "msg"} for f in fields)
    assert {f["logger"] for f in fields} <= {"llm_exporter", "llm_exporter.target", "llm_exporter.gpu"}
    assert not any("S3cret" in line for line in lines)


def test_generate_writes_into_the_current_directory_and_says_where(tmp_path):
    # review-2026-11-qa finding 9: an installed exporter wrote into site-packages and did not say where.
    done = subprocess.run(
        [sys.executable, "-m", "exporter", "generate", "docs"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).parents[2]), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"under {tmp_path}" in done.stdout
    assert (tmp_path / "docs" / "METRICS.md").is_file()


def test_check_config_never_prints_a_password(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("targets:\n  - url: http://admin:S3cretPass@127.0.0.1:8000\n")
    done = _cli("check-config", str(config))
    assert done.returncode == 0
    assert "S3cretPass" not in done.stdout + done.stderr and "admin:xxxxx@127.0.0.1:8000" in done.stdout
