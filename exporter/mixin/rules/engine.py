"""Alerts on the engines: availability, saturation and prefix-cache collapse."""

from __future__ import annotations

from exporter.mixin.promql import (
    KUBE_STATE_METRICS_SERIES,
    UnknownSeriesError,
    by,
    model_labels,
    number,
    on,
    sample,
    selector,
    target_labels,
)
from exporter.mixin.rules import engines
from exporter.mixin.rules.model import MODEL_TEXT, Group, Rule, Runbook, make_alert
from exporter.mixin.rules.recording import hit_ratio_name, rate_name, replicas_name
from exporter.mixin.settings import Settings

_WHERE = "{{ $labels.target }} ({{ $labels.engine_type }}, model {{ $labels.model }}) on {{ $labels.instance }}"


def _engine(settings: Settings, name: str, *matchers: str) -> str:
    return selector(sample(name), settings.selectors.engine, *matchers)


def _hpa(settings: Settings, name: str) -> str:
    if name not in KUBE_STATE_METRICS_SERIES:
        raise UnknownSeriesError(f"{name} is not a kube-state-metrics HPA series the rules know")
    return selector(name, settings.selectors.kube_state_metrics, settings.hpa.selector)


def _per_target(settings: Settings, aggregation: str, inner: str) -> str:
    return f"{aggregation} {by(target_labels(settings.aggregation))} ({inner})"


_ENGINE_DOWN_RUNBOOK = Runbook(
    meaning=(
        "One replica's engine is `down` (it served, then its polls failed) for 2m, or it has been `loading` for "
        "longer than `availability.startup_grace` (15m) (`llm_exporter_target_state`). A warning: the model's other "
        "replicas carry its traffic, and LLMModelReplicasDown pages when too many are down."
    ),
    impact="That replica serves nothing; the others take its share, with less headroom.",
    diagnose=(
        "`llm_exporter_scrape_errors_total{target=…}` says why (timeout, connection refused, HTTP status); "
        "`kubectl describe pod <pod>` and the engine container's logs and restarts. A pod still `loading` after the "
        "grace is downloading or loading a model slowly, or crash-looping in its start-up."
    ),
    fix=("Restart the engine or the pod; if normal model loads take longer, raise `availability.startup_grace`."),
)
_STALLED_RUNBOOK = Runbook(
    meaning=(
        "The engine holds requests yet makes no progress. On engines whose token counter moves every scheduler "
        f"step ({engines.per_step_token_engines().replace('|', ', ')}; label `token_counters` absent): requests "
        "waited or ran and no token was generated in 5m. On every other engine, which counts tokens only when a "
        'request completes (`token_counters="per_completion"`): requests waited for the whole 15m while none '
        "finished and none left the queue, so long generations alone never fire it. An engine that says it "
        "sleeps (`llm_engine_sleeping`, vLLM's sleep mode) is left alone."
    ),
    impact="The engine accepts work and answers nothing: clients hang until they time out.",
    diagnose=(
        "Compare `llm_requests_waiting`, `llm_requests_running`, `rate(llm_generation_tokens_total[5m])` and "
        "`increase(llm_requests_finished_total[15m])`; check the engine log for a hung collective (NCCL), a dead "
        "worker process, or a GPU Xid on the same node."
    ),
    fix=(
        "Restart the engine. If it recurs, capture a stack dump (e.g. `py-spy dump`) before restarting and look "
        "for GPU alerts on the same node; for reasoning workloads whose generations outlast the window, raise "
        "`availability.completion_stalled_window`."
    ),
)


def availability(settings: Settings) -> list[Rule]:
    """Exporter down, exporter metrics absent, engine down, replicas down or missing, engine stalled."""
    s, r, out = settings.availability, settings.replicas, settings.output
    target = on(target_labels(settings.aggregation))
    per_step = engines.per_step_token_engines()
    step, completion = f'engine_type=~"{per_step}"', f'engine_type!~"{per_step}"'
    waiting = _per_target(settings, "sum", _engine(settings, "llm_requests_waiting", step))
    running = _per_target(settings, "sum", _engine(settings, "llm_requests_running", step))
    tokens = _per_target(
        settings, "sum", f"rate({_engine(settings, 'llm_generation_tokens_total', step)}[{s.stalled_window}])"
    )
    window = s.completion_stalled_window
    # An engine put to sleep on purpose (vLLM's sleep mode, for RL weight updates) holds requests and makes none.
    asleep = f"unless {target}\n({_per_target(settings, 'max', _engine(settings, 'llm_engine_sleeping'))} == 1)"
    state = "llm_exporter_target_state"
    grace = s.startup_grace
    down = _engine(settings, state, 'state="down"')
    loading = _engine(settings, state, 'state="loading"')
    # Loading throughout the grace and already loading a grace ago: a restart inside it starts the clock again.
    engine_down = (
        f"max without (state) (\n  {down} == 1\n  or\n  (\n"
        f"    min_over_time({loading}[{grace}]) == 1\n    and\n    {loading} offset {grace} == 1\n  )\n)"
    )
    known = replicas_name("known")
    median = f"quantile_over_time(0.5, {known}[{r.lookback}])"
    ns = on(settings.aggregation.fleet_labels)
    fleet = by(settings.aggregation.fleet_labels)
    desired = _hpa(settings, "kube_horizontalpodautoscaler_status_desired_replicas")
    missing = (
        f"(\n  {median}\n  -\n  ({known} or {median} * 0)\n) >= 1\n"
        f"unless {ns}\n(max {fleet} ({loading}) == 1)\n"
        f"unless {ns}\n(\n  max {fleet} (\n    max_over_time({desired}[{r.lookback}])\n    - {desired}\n  ) > 0\n)"
    )

    def completion_sum(function: str, name: str) -> str:
        return _per_target(settings, "sum", f"{function}({_engine(settings, name, completion)}[{window}])")

    stalled_completion = (
        f"{completion_sum('min_over_time', 'llm_requests_waiting')} > 0\nand {target}\n(\n"
        f"  {completion_sum('increase', 'llm_requests_finished_total')}\n  or\n"
        # llama.cpp has no finish counter; on these engines tokens move only when a request completes.
        f"  {completion_sum('increase', 'llm_generation_tokens_total')}\n) == 0\n"
        f"unless {target}\n({completion_sum('increase', 'llm_request_queue_time_seconds_count')} > 0)\n{asleep}"
    )
    return [
        make_alert(
            out,
            "LLMExporterDown",
            f"{selector('up', settings.selectors.exporter)} == 0",
            for_=s.exporter_down_for,
            severity=s.exporter_down_severity,
            summary="Prometheus cannot scrape an llm-exporter.",
            description="The llm-exporter at {{ $labels.instance }} (job {{ $labels.job }}) has not answered "
            "scrapes for " + s.exporter_down_for + "; its engines and GPUs are unobserved.",
            runbook=Runbook(
                meaning=(
                    "Prometheus has failed to scrape an llm-exporter (`up == 0`) for 2m. A warning: one sidecar "
                    "is one replica; LLMModelReplicasDown counts it as down and pages when too many are."
                ),
                impact=(
                    "Everything behind that exporter — engines and GPUs — is unobserved; other alerts for it go silent."
                ),
                diagnose=(
                    "`curl http://<instance>/-/healthy` and `/metrics`; check the sidecar container's "
                    "restarts and logs; check the PodMonitor/ServiceMonitor port name and the scrape "
                    'job (`up{job="llm-exporter"}`).'
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
            engine_down,
            for_=s.engine_down_for,
            severity="warning",
            summary="One replica's inference engine is down or never finished loading.",
            description="Replica {{ $labels.pod }} (target {{ $labels.target }}, {{ $labels.engine_type }}) on "
            "{{ $labels.instance }} has been down for " + s.engine_down_for + ", or is still loading its model "
            f"after {grace}; the model's other replicas carry its traffic (LLMModelReplicasDown pages when too "
            "many are down).",
            runbook=_ENGINE_DOWN_RUNBOOK,
        ),
        make_alert(
            out,
            "LLMModelReplicasDown",
            f"{replicas_name('down')}\n/\n{known}\n>= {number(r.page_share)}",
            for_=r.page_for,
            severity="critical",
            summary="A large share of a model's replicas is down.",
            description="{{ $value | humanizePercentage }} of the replicas of model {{ $labels.model }} "
            "({{ $labels.engine_type }}, namespace {{ $labels.namespace }}) that served in the last "
            f"{r.lookback} are down or unreachable (page threshold {r.page_share:.0%}); see the LLMEngineDown / "
            "LLMExporterDown warnings for the pods.",
            runbook=Runbook(
                meaning=(
                    "At least half (`replicas.page_share`) of the replicas that served a model in the last hour "
                    "(`replicas.lookback`) are down: engine `down` or exporter unreachable. Replicas `loading` "
                    "their model are not counted as down; one stuck loading warns through LLMEngineDown."
                ),
                impact="The remaining replicas carry the model's traffic alone: queues and latency grow, or "
                "the model is unavailable.",
                diagnose=(
                    "The LLMEngineDown and LLMExporterDown warnings name the pods; "
                    "`model:llm_replicas_down:count` and `model:llm_replicas_known:count` give the counts. A "
                    "whole node or GPU pool failing shows as several pods on one node (`kubectl get pods -o wide`)."
                ),
                fix=(
                    "Fix the common cause (node, GPU, image, model store); restart the failed pods; shed load "
                    "until enough replicas are back."
                ),
            ),
        ),
        make_alert(
            out,
            "LLMReplicasMissing",
            missing,
            for_=r.missing_for,
            severity="warning",
            summary="Replicas of a model vanished and were not replaced.",
            description="Model {{ $labels.model }} ({{ $labels.engine_type }}, namespace {{ $labels.namespace }}) "
            f"has {{{{ $value }}}} replicas fewer than its median over the last {r.lookback}, no replacement is "
            "loading and no HPA scaled down: pods were deleted, evicted or lost with their node (check kubectl get "
            "pods / events).",
            runbook=Runbook(
                meaning=(
                    "A model has at least one replica fewer than its median over the last hour, and no series "
                    "says why: no target in the namespace is `loading` (a rollout or replacement) and no HPA "
                    "there lowered its desired replicas (an intended scale-down)."
                ),
                impact=(
                    "A pod deleted, evicted or lost with its node leaves no series behind, so no down alert "
                    "fires for it; its replacement may be Pending for want of a GPU."
                ),
                diagnose=(
                    "`kubectl get pods` and `kubectl get events` in the namespace: Pending pods "
                    "(`Insufficient nvidia.com/gpu`), evictions, a NotReady node."
                ),
                fix=(
                    "Free or add GPU capacity, or uncordon the node. A manual `kubectl scale` without an HPA "
                    "also fires this; it resolves once the median catches up (half of `replicas.lookback`)."
                ),
            ),
        ),
        make_alert(
            out,
            "LLMEngineStalled",
            f"({waiting}\n+\n{running}\n> 0)\nand {target}\n({tokens}\n== 0)\n{asleep}",
            for_=s.stalled_for,
            severity="critical",
            summary="An inference engine holds requests but generates no tokens.",
            description=_WHERE
            + " has {{ $value }} requests waiting or running and generated no token in "
            + s.stalled_window
            + ": the engine is wedged.",
            runbook=_STALLED_RUNBOOK,
        ),
        make_alert(
            out,
            "LLMEngineStalled",
            stalled_completion,
            for_=s.stalled_for,
            severity="critical",
            # promtool's lint rejects two rules with one name and one label set.
            labels={"token_counters": "per_completion"},
            summary="An inference engine holds requests but generates no tokens.",
            description=_WHERE + " has had at least {{ $value }} requests waiting for " + window + " while none "
            "finished and none left the queue (this engine counts tokens only at completion, so long generations "
            "alone never trigger this): the engine is wedged.",
            runbook=_STALLED_RUNBOOK,
        ),
    ]


_QUEUE_RUNBOOK = Runbook(
    meaning=(
        "Requests pile up in one replica's queue; the `signal` label says how. No label: more than 50 requests "
        "waited on average over 10m and the p90 queue time exceeded 5s (engines without queue time are judged on "
        "the waiting requests alone). `not_draining`: requests waited for the whole 10m and none finished or left "
        "the queue (vLLM observes queue time only when a request finishes, so both are required). `sustained`: "
        "more than `queue.sustained_waiting` (50) waited on average for 20m more, even if they churn fast. "
        "`queue_time_p99`: the p99 queue time over 10m exceeded `queue.p99_seconds` (10s) with at least "
        "`queue.min_dequeues` (20) requests dequeued."
    ),
    impact="Users wait before their first token; TTFT objectives burn.",
    diagnose=(
        "Is traffic up (`model_finish_reason:llm_requests_finished:rate5m`)? Is throughput down "
        "(`model:llm_generation_tokens:rate5m`)? Is the KV cache full (`LLMKVCacheSaturated`)? Are requests "
        "longer (prompt/generation token histograms)? `not_draining` with no token either is a stuck scheduler "
        "(see LLMEngineStalled); is the HPA at its maximum (`LLMHPAMaxedOut`)?"
    ),
    fix=(
        "Add replicas or shed load; if the batch is limited by configuration (`--max-num-seqs`, "
        "`--max-running-requests`), raise it when the KV cache has room."
    ),
)


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
    kv_bucket = f"rate({_engine(settings, 'llm_request_queue_time_seconds_bucket')}[{kv.window}])"
    kv_queue_time = f"histogram_quantile({number(q.queue_time_quantile)}, sum {by([*t_labels, 'le'])} ({kv_bucket}))"
    kv_peak = _per_target(
        settings, "max", f"max_over_time({_engine(settings, 'llm_kv_cache_usage_ratio')}[{kv.window}])"
    )
    kv_preempted = _per_target(settings, "sum", f"increase({_engine(settings, 'llm_preemptions_total')}[{kv.window}])")
    preemptions = _per_target(settings, "sum", f"rate({_engine(settings, 'llm_preemptions_total')}[{p.window}])")
    finished = _per_target(settings, "sum", f"rate({_engine(settings, 'llm_requests_finished_total')}[{p.window}])")
    quantile = f"p{round(q.queue_time_quantile * 100)}"
    waiting_min = _per_target(
        settings, "sum", f"min_over_time({_engine(settings, 'llm_requests_waiting')}[{q.window}])"
    )
    finished_q = _per_target(
        settings, "sum", f"increase({_engine(settings, 'llm_requests_finished_total')}[{q.window}])"
    )
    # Engines without a finish counter (llama.cpp) that count tokens only at completion: no token is no finish.
    at_completion = f'engine_type!~"{engines.per_step_token_engines()}"'
    completion_tokens = _per_target(
        settings, "sum", f"increase({_engine(settings, 'llm_generation_tokens_total', at_completion)}[{q.window}])"
    )
    dequeued = _per_target(
        settings, "sum", f"increase({_engine(settings, 'llm_request_queue_time_seconds_count')}[{q.window}])"
    )
    queue_p99 = f"histogram_quantile(0.99, sum {by([*t_labels, 'le'])} ({queue_bucket}))"
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
            runbook=_QUEUE_RUNBOOK,
        ),
        make_alert(
            out,
            "LLMQueuePressure",
            f"{waiting_min} > 0\nand {target}\n(\n  {finished_q}\n  or\n  {completion_tokens}\n) == 0\n"
            f"unless {target}\n({dequeued} > 0)",
            for_=q.for_,
            severity="warning",
            labels={"signal": "not_draining"},
            summary="Requests pile up in an inference engine's queue.",
            description=_WHERE + " has had at least {{ $value }} requests waiting for " + q.window + " and none "
            "left the queue or finished: the queue does not drain (batch full of long generations, or the "
            "scheduler is stuck).",
            runbook=_QUEUE_RUNBOOK,
        ),
        make_alert(
            out,
            "LLMQueuePressure",
            f"{waiting_avg}\n> {number(q.sustained_waiting)}",
            for_=q.sustained_for,
            severity="warning",
            labels={"signal": "sustained"},
            summary="Requests pile up in an inference engine's queue.",
            description=_WHERE + " has had {{ $value | humanize }} requests waiting on average for over "
            f"{q.sustained_for} (threshold {number(q.sustained_waiting)} per replica, TGI's production guide): add "
            "capacity.",
            runbook=_QUEUE_RUNBOOK,
        ),
        make_alert(
            out,
            "LLMQueuePressure",
            f"{queue_p99}\n> {number(q.p99_seconds)}\nand {target}\n{dequeued} >= {q.min_dequeues}",
            for_=q.for_,
            severity="warning",
            labels={"signal": "queue_time_p99"},
            summary="Requests pile up in an inference engine's queue.",
            description=_WHERE
            + " has a p99 queue time of {{ $value | humanizeDuration }} over "
            + q.window
            + f", above {number(q.p99_seconds)}s: the slowest requests wait in the queue even though the queue is "
            "short.",
            runbook=_QUEUE_RUNBOOK,
        ),
        make_alert(
            out,
            "LLMKVCacheSaturated",
            f"({kv_peak}\n> {number(kv.usage_ratio)})\nand {target}\n(\n  {kv_preempted} > 0\n  or {target}\n"
            f"  {kv_queue_time} > {number(q.queue_time_seconds)}\n)",
            for_=kv.for_,
            severity="warning",
            summary="An inference engine's KV cache is full and requests suffer for it.",
            description=_WHERE + " peaked at {{ $value | humanizePercentage }} KV-cache usage while requests "
            f"were preempted or queued longer than {number(q.queue_time_seconds)}s at {quantile}: capacity, not "
            "just high use.",
            runbook=Runbook(
                meaning=(
                    "KV-cache usage peaked above 95 % in 10m **and** requests were preempted or the p90 queue "
                    "time exceeded 5s. Full KV alone, or with a short queue that drains (an HPA set point), is "
                    "normal under load and does not fire this alert."
                ),
                impact=("The batch cannot grow: new requests queue, running ones get preempted and recomputed."),
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
        f"and {model}\n{traffic} > {number(pc.min_query_tokens_per_second)}\n"
        # A rollout refills caches from empty: the drop is expected while many replicas are warming.
        f"unless {model}\n({replicas_name('warming')} / {replicas_name('ready')} >= {number(pc.warming_share)})"
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
                    "above 10 %, and fewer than half of its ready replicas are warming up (restarted or "
                    "started within `prefix_cache.warmup`, 1h): a rollout's cold caches do not fire it."
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


def autoscaling(settings: Settings) -> list[Rule]:
    """An HPA at its maximum while its model's queue stays above the HPA's own target."""
    h, a = settings.hpa, settings.aggregation
    waiting = _engine(settings, "llm_requests_waiting")
    model = by(model_labels(a))
    # Per replica, not per series: an engine with data-parallel ranks reports one waiting series per rank.
    per_target = by([*a.fleet_labels, *a.instance_labels, "target", "engine_type", "model"])
    replicas = f"count {model} (max {per_target} ({waiting}))"
    expr = (
        f"(\n  {_hpa(settings, 'kube_horizontalpodautoscaler_status_current_replicas')}\n"
        f"  >= {on([*a.fleet_labels, 'horizontalpodautoscaler'])}\n"
        f"  {_hpa(settings, 'kube_horizontalpodautoscaler_spec_max_replicas')}\n)\n"
        f"and {on(h.join_labels)}\n(\n  max {by(h.join_labels)} (\n"
        f"    sum {model} (avg_over_time({waiting}[{settings.queue.window}]))\n    /\n    {replicas}\n"
        f"  ) > {number(h.waiting_per_replica)}\n)"
    )
    return [
        make_alert(
            settings.output,
            "LLMHPAMaxedOut",
            expr,
            for_=h.for_,
            severity="warning",
            summary="An HPA is at its maximum while its model's queue stays above the target.",
            description="HPA {{ $labels.horizontalpodautoscaler }} (namespace {{ $labels.namespace }}) has run at "
            f"maxReplicas for {h.for_} while a model there keeps more than {number(h.waiting_per_replica)} "
            "requests waiting per replica, the HPA's own target: raise maxReplicas, add GPUs, or shed load.",
            runbook=Runbook(
                meaning=(
                    "kube-state-metrics reports the HPA at `maxReplicas`, and a model in its namespace "
                    "(`hpa.join_labels`) has kept more than `hpa.waiting_per_replica` (10) requests waiting per "
                    "replica on average over 10m, for 15m. The HPA wants to scale and cannot."
                ),
                impact="The queue grows with traffic; TTFT objectives burn and LLMQueuePressure follows.",
                diagnose=(
                    "`kubectl describe hpa <name>` (current metric value and conditions such as ScalingLimited); "
                    "is the cluster out of GPUs (Pending pods)? Did traffic grow for good?"
                ),
                fix=(
                    "Raise `maxReplicas` where GPUs are free, add GPU nodes, or shed load. With several models "
                    "in one namespace, join on a model label (`hpa.join_labels`) so the right HPA is named."
                ),
            ),
        )
    ]


def groups(settings: Settings) -> list[Group]:
    """The engine alert groups (the SLO burn-rate group is in rules/slo.py)."""
    interval = settings.output.evaluation_interval
    return [
        Group("llm-exporter-availability", availability(settings), interval, "Availability"),
        Group(
            "llm-exporter-saturation",
            saturation(settings) + prefix_cache(settings) + autoscaling(settings),
            interval,
            "Saturation",
        ),
    ]
