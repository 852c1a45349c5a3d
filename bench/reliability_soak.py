"""Hostile soak: a legitimate scraper beside hostile clients, against an exporter with TLS, basic auth and the
lifecycle API, polling 4 replayed real captures every second.

usage: python3 bench/reliability_soak.py [--minutes 30] [--warmup 60] [--silent 20] [--wrong-per-s 10]

Hostile clients, all the time: --silent TCP connections that never start their TLS handshake (each reopened when the
exporter drops it), a reload flood (POST /-/reload with the right password, back to back), and wrong passwords (GET
/metrics and POST /-/reload, --wrong-per-s a second, against a bcrypt cost-10 hash). The legitimate scraper GETs
/metrics once a second over verified TLS. Every 30 s: RSS and threads. PASS: no legitimate scrape fails, every
wrong password gets 401, threads stay under the connection cap, RSS grows < 5 MiB after the warm-up.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import bcrypt
import httpx
from reliability_common import exporter, replays, rss_bytes, scrape, threads

from tests.support.pki import PASSWORD, make_pki

USER = "prometheus"


def _web_config(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A web config (TLS, one bcrypt cost-10 user, as htpasswd -B makes by default) and a client context trusting it."""
    pki = make_pki(folder)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    path = folder / "web.yml"
    path.write_text(
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"basic_auth_users:\n  {USER}: '{hashed}'\n"
    )
    return path, ssl.create_default_context(cafile=str(pki.ca))


def _forever(stop: threading.Event, step: Callable[[], None]) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            step()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def _silent(port: int, count: int, stop: threading.Event, opened: Counter[str]) -> Callable[[], None]:
    """Hold `count` connections that send nothing; reopen each as soon as the exporter drops it."""

    def step() -> None:
        held = []
        for _ in range(count):
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=1))
                opened["silent connections"] += 1
            except OSError:
                opened["silent refused"] += 1
        for conn in held:
            conn.settimeout(30)
            with contextlib.suppress(OSError):
                conn.recv(1)  # returns when the exporter closes it (its handshake deadline)
            conn.close()
            if stop.is_set():
                break

    return step


def _requests(
    base: str, verify: ssl.SSLContext, auth: tuple[str, str], calls: Counter[str], pace: float
) -> Callable[[], None]:
    """Alternate POST /-/reload and GET /metrics with auth, counting answers by status; pace seconds between them."""
    client = httpx.Client(verify=verify, auth=auth, timeout=30)

    def step() -> None:
        for method, path in (("POST", "/-/reload"), ("GET", "/metrics")):
            try:
                calls[f"{method} {path} {client.request(method, base + path).status_code}"] += 1
            except httpx.HTTPError as error:
                calls[f"{method} {path} {type(error).__name__}"] += 1
            time.sleep(pace)

    return step


def main() -> int:
    """Run the soak; print samples, the hostile clients' counts and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS growth is counted")
    parser.add_argument("--silent", type=int, default=20)
    parser.add_argument("--wrong-per-s", type=float, default=10.0)
    args = parser.parse_args()
    stop = threading.Event()
    hostile: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as folder, replays() as stubs:
        web, verify = _web_config(Path(folder))
        extra = ["--web.config.file", str(web), "--web.enable-lifecycle"]
        with exporter([s.url for s in stubs], "1s", extra, "https", verify) as (process, base):
            port = int(base.rsplit(":", 1)[1])
            wrong = Counter[str]()
            attackers = [
                _forever(stop, _silent(port, args.silent, stop, hostile)),
                _forever(stop, _requests(base, verify, (USER, PASSWORD), hostile, 0.0)),  # the reload flood
                _forever(stop, _requests(base, verify, (USER, "wrong-password"), wrong, 2 / args.wrong_per_s)),
            ]
            samples: list[tuple[float, int, int]] = []
            latencies: list[float] = []
            errors: list[str] = []
            started = next_sample = time.monotonic()
            with httpx.Client(verify=verify, auth=(USER, PASSWORD)) as client:
                while time.monotonic() - started < args.warmup + args.minutes * 60:
                    begin = time.perf_counter()
                    scrape(client, base, latencies, errors, timeout=5)
                    if time.monotonic() >= next_sample:
                        elapsed = time.monotonic() - started
                        samples.append((elapsed, rss_bytes(process.pid), threads(process.pid)))
                        print(
                            f"[soak +{elapsed:5.0f}s] rss {samples[-1][1] / 2**20:6.2f} MiB, threads {samples[-1][2]}, "
                            f"scrapes {len(latencies)}, errors {len(errors)}",
                            flush=True,
                        )
                        next_sample += 30
                    time.sleep(max(0.0, 1.0 - (time.perf_counter() - begin)))
            stop.set()
            for attacker in attackers:  # before the exporter stops, so none counts its own shutdown as an error
                attacker.join(timeout=40)
            alive = process.poll() is None
    after = [rss for t, rss, _ in samples if t >= args.warmup] or [samples[-1][1]]
    growth = (statistics.median(after[-3:]) - statistics.median(after[:3])) / 2**20
    max_threads = max(n for _, _, n in samples)
    q = statistics.quantiles(latencies, n=100)
    refused = sum(n for key, n in wrong.items() if not key.endswith(" 401"))
    print(f"soak: {args.minutes:g} min (+{args.warmup:g} s warm-up), 4 targets at 1s, TLS + basic auth + lifecycle")
    print(
        f"soak: legitimate scrapes {len(latencies)}, errors {len(errors)}, p50 {q[49] * 1000:.1f} ms, "
        f"p99 {q[98] * 1000:.1f} ms"
    )
    print(f"soak: hostile {dict(sorted(hostile.items()))}")
    print(f"soak: wrong passwords {dict(sorted(wrong.items()))}")
    print(
        f"soak: rss after warm-up {statistics.median(after[:3]) / 2**20:.2f} MiB, growth {growth:+.2f} MiB, "
        f"max {max(after) / 2**20:.2f} MiB; threads max {max_threads}; alive {alive}"
    )
    ok = not errors and not refused and growth < 5 and max_threads < 256 and alive
    print("soak: PASS" if ok else f"soak: FAIL {sorted(set(errors))}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
