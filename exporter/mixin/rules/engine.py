"""Alerts on the engines: availability, saturation and prefix-cache collapse."""

from __future__ import annotations

from exporter.mixin.promql import by, model_labels, number, on, sample, selector, target_labels
from exporter.mixin.rules.model import MODEL_TEXT, Group, Rule, Runbook, make_alert
from exporter.mixin.rules.recording import hit_ratio_name, rate_name
from exporter.mixin.settings import Settings

_WHERE = "{{ $labels.target }} ({{ $labels.engine_type }}, model {{ $labels.model }}) on {{ $labels.instance }}"


def _engine(settings: Settings, name: str, *matchers: str) -> str:
    return selector(sample(name), settings.selectors.engine, *matchers)


def _per_target(settings: Settings, aggregation: str, inner: str) -> str:
    return f"{aggregation} {by(target_labels(settings.aggregation))} ({inner})"


def availability(settings: Settings) -> list[Rule]:
    """Exporter down, exporter metrics absent, engine down, engine stalled."""
    s, out = settings.availability, settings.output
    target = on(target_labels(settings.aggregation))
    waiting = _per_target(settings, "sum", _engine(settings, "llm_requests_waiting"))
    running = _per_target(settings, "sum", _engine(settings, "llm_requests_running"))
    tokens = _per_target(
        settings, "sum", f"rate({_engine(settings, 'llm_generation_tokens_total')}[{s.stalled_window}])"
    )
    return [
        make_alert(
            out,
            "LLMExporterDown",
            f"{selector('up', settings.selectors.exporter)} == 0",
            for_=s.exporter_down_for,
            severity="critical",
            summary="Prometheus cannot scrape an llm-exporter.",
            description="The llm-exporter at {{ $labels.instance }} (job {{ $labels.job }}) has not answered "
            "scrapes for " + s.exporter_down_for + "; its engines and GPUs are unobserved.",
            runbook=Runbook(
                meaning="Prometheus has failed to scrape an llm-exporter (`up == 0`) for 2m.",
                impact=(
                    "Everything behind that exporter — engines and GPUs — is unobserved; other alerts "
                    "for it go silent."
                ),
                diagnose=(
                    "`curl http://<instance>/-/healthy` and `/metrics`; check the sidecar container's "
                    "restarts and logs; check the PodMonitor/ServiceMonitor port name and the scrape "
                    "job (`up{job=\"llm-exporter\"}`)."
                ),
                fix=(
                    "Restart the sidecar; fix the scrape config or network policy. The exporter never "
                    "fails `/metrics` because an engine is down, so a down exporter is the exporter "
                    "itself or the network."
                ),
            ),
        ),
        make_alert(
            out,
            "LLMExporterMetricsAbsent",
            f"absent({_engine(settings, 'llm_exporter_target_up')})",
            for_="15m",
            severity="warning",
            summary="No llm-exporter target metrics reach Prometheus.",
            description="No series llm_exporter_target_up matches "
            + settings.selectors.engine
            + " for 15m: the scrape job or the rule selectors are misconfigured.",
            runbook=Runbook(
                meaning="No `llm_exporter_target_up` series matches the rules' engine selector for 15m.",
                impact="Every engine alert is blind: they all select nothing.",
                diagnose=(
                    "Query `llm_exporter_target_up` without a selector. If series exist under another "
                    "`job`, the selector setting is wrong; if none exist, no exporter is scraped."
                ),
                fix=(
                    "Set `selectors.engine`/`selectors.exporter` to your job name and regenerate, or "
                    "fix the scrape config."
                ),
            ),
        ),
        make_alert(
            out,
            "LLMEngineDown",
            f"{_engine(settings, 'llm_exporter_target_up')} == 0",
            for_=s.engine_down_for,
            severity="critical",
            summary="An inference engine's /metrics cannot be read.",
            description="The exporter on {{ $labels.instance }} has failed to poll target {{ $labels.target }} "
            "({{ $labels.engine_type }}) for " + s.engine_down_for + ": the engine is down, restarting or unreachable.",
            runbook=Runbook(
                meaning=(
                    "The exporter answers, but its polls of the engine's `/metrics` have failed for "
                    "2m (`llm_exporter_target_up == 0`)."
                ),
                impact=(
                    "The engine is down, restarting, loading its model, or unreachable from the "
                    "sidecar; users of that replica get errors or are routed elsewhere."
                ),
                diagnose=(
                    "`llm_exporter_scrape_errors_total{target=…}` says why (timeout, connection "
                    "refused, HTTP status); check the engine container's logs and restarts; a model "
                    "still loading shows up here until its server listens."
                ),
                fix=(
                    "Restart the engine or the pod; if model loading is slow, raise "
                    "`availability.engine_down_for`."
                ),
            ),
        ),
        make_alert(
            out,
            "LLMEngineStalled",
            f"({waiting}\n+\n{running}\n> 0)\nand {target}\n({tokens}\n== 0)",
            for_=s.stalled_for,
            severity="critical",
            summary="An inference engine holds requests but generates no tokens.",
            description=_WHERE
            + " has {{ $value }} requests waiting or running and generated no token in "
            + s.stalled_window
            + ": the engine is wedged.",
            runbook=Runbook(
                meaning="Requests are waiting or running, yet the engine generated no token in 5m.",
                impact="The engine accepts work and answers nothing: clients hang until they time out.",
                diagnose=(
                    "Compare `llm_requests_waiting`, `llm_requests_running` and "
                    "`rate(llm_generation_tokens_total[5m])`; check the engine log for a hung "
                    "collective (NCCL), a dead worker process, or a GPU Xid on the same node."
                ),
                fix=(
                    "Restart the engine. If it recurs, capture a stack dump (e.g. `py-spy dump`) "
                    "before restarting and look for GPU alerts on the same node."
                ),
            ),
        ),
    ]


def saturation(settings: Settings) -> list[Rule]:
    """Queue pressure, KV saturation with consequences, preemption storm."""
    q, kv, p, out = settings.queue, settings.kv_cache, settings.preemption, settings.output
    target = on(target_labels(settings.aggregation))
    t_labels = target_labels(settings.aggregation)
    waiting_avg = _per_target(
        settings, "sum", f"avg_over_time({_engine(settings, 'llm_requests_waiting')}[{q.window}])"
    )
    queue_bucket = f"rate({_engine(settings, 'llm_request_queue_time_seconds_bucket')}[{q.window}])"
    queue_time = f"histogram_quantile({number(q.queue_time_quantile)}, sum {by([*t_labels, 'le'])} ({queue_bucket}))"
    # Engines without a queue-time histogram (llama.cpp) are judged on the waiting requests alone.
    no_queue_time = (
        f"{_per_target(settings, 'sum', _engine(settings, 'llm_requests_waiting'))}\n"
        f"  unless {target}\n"
        f"  {_per_target(settings, 'sum', _engine(settings, 'llm_request_queue_time_seconds_count'))}"
    )
    waiting_now = _per_target(settings, "sum", _engine(settings, "llm_requests_waiting"))
    kv_peak = _per_target(
        settings, "max", f"max_over_time({_engine(settings, 'llm_kv_cache_usage_ratio')}[{kv.window}])"
    )
    kv_preempted = _per_target(settings, "sum", f"increase({_engine(settings, 'llm_preemptions_total')}[{kv.window}])")
    preemptions = _per_target(settings, "sum", f"rate({_engine(settings, 'llm_preemptions_total')}[{p.window}])")
    finished = _per_target(settings, "sum", f"rate({_engine(settings, 'llm_requests_finished_total')}[{p.window}])")
    quantile = f"p{round(q.queue_time_quantile * 100)}"
    return [
        make_alert(
            out,
            "LLMQueuePressure",
            f"({waiting_avg}\n> {number(q.waiting)})\nand {target}\n(\n  {queue_time}\n  > "
            f"{number(q.queue_time_seconds)}\n  or {target}\n  {no_queue_time}\n)",
            for_=q.for_,
            severity="warning",
            summary="Requests pile up in an inference engine's queue.",
            description=_WHERE
            + " had {{ $value | humanize }} requests waiting on average over "
            + q.window
            + f" (threshold {number(q.waiting)}), with a {quantile} queue time above "
            + f"{number(q.queue_time_seconds)}s where the engine reports one: add replicas or "
            "reduce load.",
            runbook=Runbook(
                meaning=(
                    "More than 50 requests waited on average over 10m, and the p90 queue time "
                    "exceeded 5s (engines that do not report queue time are judged on the waiting "
                    "requests alone)."
                ),
                impact="Users wait before their first token; TTFT objectives burn.",
                diagnose=(
                    "Is traffic up (`model_finish_reason:llm_requests_finished:rate5m`)? Is throughput down "
                    "(`model:llm_generation_tokens:rate5m`)? Is the KV cache full "
                    "(`LLMKVCacheSaturated`)? Are requests longer (prompt/generation token "
                    "histograms)?"
                ),
                fix=(
                    "Add replicas or shed load; if the batch is limited by configuration "
                    "(`--max-num-seqs`, `--max-running-requests`), raise it when the KV cache has "
                    "room."
                ),
            ),
        ),
        make_alert(
            out,
            "LLMKVCacheSaturated",
            f"({kv_peak}\n> {number(kv.usage_ratio)})\nand {target}\n(\n  {waiting_now} > 0\n  or {target}\n"
            f"  {kv_preempted} > 0\n)",
            for_=kv.for_,
            severity="warning",
            summary="An inference engine's KV cache is full and requests suffer for it.",
            description=_WHERE + " peaked at {{ $value | humanizePercentage }} KV-cache usage while requests "
            "waited or were preempted: capacity, not just high use.",
            runbook=Runbook(
                meaning=(
                    "KV-cache usage peaked above 95 % in 10m **and** requests are waiting or were "
                    "preempted. Full KV alone is normal under load and does not fire this alert."
                ),
                impact=(
                    "The batch cannot grow: new requests queue, running ones get preempted and "
                    "recomputed."
                ),
                diagnose=(
                    "`llm_kv_cache_usage_ratio`, `llm_requests_waiting`, "
                    "`rate(llm_preemptions_total[5m])`; long prompts or long generations (token "
                    "histograms) use more cache per request."
                ),
                fix=(
                    "Add replicas; give the engine more KV memory (vLLM `--gpu-memory-utilization`, "
                    "SGLang `--mem-fraction-static`), a smaller `--max-model-len`, KV-cache "
                    "quantisation, or tensor parallelism over more GPUs."
                ),
            ),
        ),
        make_alert(
            out,
            "LLMPreemptionStorm",
            f"({preemptions}\n> {number(p.min_rate)})\nand {target}\n({preemptions}\n/\n{finished}\n"
            f"> {number(p.ratio)})",
            for_=p.for_,
            severity="warning",
            summary="An inference engine preempts a large share of its requests.",
            description=_WHERE
            + " preempts {{ $value | humanize }} requests per second, more than "
            + f"{number(p.ratio)} per finished request over {p.window}: the KV cache is "
            "oversubscribed and work is recomputed.",
            runbook=Runbook(
                meaning=(
                    "The engine preempts more than 0.1 requests per finished request (and more than "
                    "0.05 per second) for 10m."
                ),
                impact="Preempted requests are recomputed: throughput falls and latency rises sharply.",
                diagnose=(
                    "Usually accompanies `LLMKVCacheSaturated`. Check "
                    "`rate(llm_preemptions_total[5m])` against "
                    "`rate(llm_requests_finished_total[5m])` and the generation-length histogram."
                ),
                fix=(
                    "As for KV saturation; also lower the maximum concurrent sequences so the "
                    "admitted batch fits the cache."
                ),
            ),
        ),
    ]


def prefix_cache(settings: Settings) -> list[Rule]:
    """Prefix-cache hit ratio collapsing against the same model's own baseline, with a traffic guard."""
    pc, out = settings.prefix_cache, settings.output
    ratio = hit_ratio_name(pc.window)
    baseline = f"avg_over_time({ratio}[{pc.baseline_window}] offset {pc.window})"
    traffic = rate_name("model", "llm_prefix_cache_queries_tokens_total", pc.window)
    model = on(model_labels(settings.aggregation))
    expr = (
        f"{ratio}\n< {number(pc.drop_factor)} * {baseline}\n"
        f"and {model}\n{baseline} > {number(pc.min_baseline_ratio)}\n"
        f"and {model}\n{traffic} > {number(pc.min_query_tokens_per_second)}"
    )
    return [
        make_alert(
            out,
            "LLMPrefixCacheHitCollapse",
            expr,
            for_=pc.for_,
            severity="warning",
            summary="A model's prefix-cache hit ratio collapsed against its own baseline.",
            description=MODEL_TEXT + " hits the prefix cache for {{ $value | humanizePercentage }} of prompt "
            f"tokens over {pc.window}, under {number(pc.drop_factor)}x its "
            f"{pc.baseline_window} average: routing lost affinity, the cache is evicted too "
            "early, or prompts changed.",
            runbook=Runbook(
                meaning=(
                    "A model's prefix-cache hit ratio over 15m fell below half of its own average of "
                    "the last day, while it serves more than 50 prompt tokens/s and its baseline was "
                    "above 10 %."
                ),
                impact=(
                    "Prompts that used to be served from cache are prefilled again: more GPU time per "
                    "request, higher TTFT."
                ),
                diagnose=(
                    "`model:llm_prefix_cache_hits_per_queries:ratio_rate15m` per model over the last "
                    "day; did a deployment change the system prompt or the chat template? Did the "
                    "router lose session/prefix affinity (new replicas, a changed routing policy)? Is "
                    "the cache evicted early (KV saturation)?"
                ),
                fix=(
                    "Restore prefix-aware routing or the shared prompt; give the cache more room. If "
                    "the traffic mix changed for good, the alert clears once the new ratio becomes "
                    "the baseline."
                ),
            ),
        )
    ]


def groups(settings: Settings) -> list[Group]:
    """The engine alert groups (the SLO burn-rate group is in rules/slo.py)."""
    interval = settings.output.evaluation_interval
    return [
        Group("llm-exporter-availability", availability(settings), interval, "Availability"),
        Group("llm-exporter-saturation", saturation(settings) + prefix_cache(settings), interval, "Saturation"),
    ]
