"""Alerts on how an engine admits and decodes: rejections, speculative-decoding acceptance, P/D KV transfer."""

from __future__ import annotations

from exporter.mixin.promql import by, model_labels, number, on, sample, selector, target_labels
from exporter.mixin.rules.model import MODEL_TEXT, Group, Rule, Runbook, make_alert
from exporter.mixin.settings import Settings

_WHERE = "{{ $labels.target }} ({{ $labels.engine_type }}, model {{ $labels.model }}) on {{ $labels.instance }}"


def _sum(settings: Settings, labels: list[str], function: str, name: str, window: str, offset: str = "") -> str:
    shifted = f" offset {offset}" if offset else ""
    return f"sum {by(labels)} ({function}({selector(sample(name), settings.selectors.engine)}[{window}]{shifted}))"


def _rate(settings: Settings, labels: list[str], name: str, window: str, offset: str = "") -> str:
    return _sum(settings, labels, "rate", name, window, offset)


def speculative_decoding(settings: Settings) -> list[Rule]:
    """A model's draft acceptance rate collapsing against its own baseline, with a traffic guard."""
    sd, labels = settings.spec_decode, model_labels(settings.aggregation)
    model = on(labels)

    def acceptance(window: str, offset: str = "") -> str:
        accepted = _rate(settings, labels, "llm_spec_decode_accepted_tokens_total", window, offset)
        drafted = _rate(settings, labels, "llm_spec_decode_draft_tokens_total", window, offset)
        return f"(\n  {accepted}\n  /\n  {drafted}\n)"

    drafted_now = _rate(settings, labels, "llm_spec_decode_draft_tokens_total", sd.window)
    expr = (
        f"{acceptance(sd.window)}\n< {number(sd.drop_factor)} * {acceptance(sd.baseline_window, sd.window)}"
        f"\nand {model}\n{drafted_now} > {number(sd.min_draft_tokens_per_second)}"
    )
    return [
        make_alert(
            settings.output,
            "LLMSpecDecodeAcceptanceCollapse",
            expr,
            for_=sd.for_,
            severity="warning",
            summary="A model's speculative-decoding acceptance rate collapsed against its own baseline.",
            description=MODEL_TEXT + " accepts {{ $value | humanizePercentage }} of drafted tokens over "
            f"{sd.window}, under {number(sd.drop_factor)}x its {sd.baseline_window} average: drafting now costs "
            "compute and saves little.",
            runbook=Runbook(
                meaning=(
                    "Accepted over drafted tokens (`llm_spec_decode_accepted_tokens_total` / "
                    f"`llm_spec_decode_draft_tokens_total`) over {sd.window} fell below {number(sd.drop_factor)}x "
                    f"the same model's rate over the previous {sd.baseline_window}, while it drafts more than "
                    f"{number(sd.min_draft_tokens_per_second)} tokens/s. The baseline is the model's own: "
                    "acceptance depends on the drafter (n-gram, EAGLE, a draft model) and the text, so no fixed "
                    "threshold fits every deployment."
                ),
                impact=(
                    "Each step verifies drafts that are thrown away: inter-token latency and GPU time rise, and "
                    "speculative decoding can end up slower than plain decoding."
                ),
                diagnose=(
                    "Did the traffic change (a new language, code instead of chat, higher temperature)? Was the "
                    "target model or the draft model updated without the other (`llm_engine_info`, rollouts)? "
                    "Compare the acceptance per model on the Engine detail dashboard's Speculative decoding row."
                ),
                fix=(
                    "Redeploy the drafter that matches the target model; lower the number of speculative tokens, or "
                    "turn speculative decoding off for this traffic. If the traffic changed for good, the alert "
                    "clears once the new rate becomes the baseline."
                ),
            ),
        )
    ]


def admission(settings: Settings) -> list[Rule]:
    """Sustained rejections: a share of the requests refused before they were queued."""
    rj, labels = settings.rejections, target_labels(settings.aggregation)
    target = on(labels)
    rejected = _rate(settings, labels, "llm_requests_rejected_total", rj.window)
    finished = _rate(settings, labels, "llm_requests_finished_total", rj.window)
    expr = (
        # A target that refuses everything has no finished series: count it as zero finished.
        f"(\n  {rejected}\n  /\n  ({rejected} + {target} ({finished} or {rejected} * 0))\n) > {number(rj.ratio)}\n"
        f"and {target}\n{rejected} > {number(rj.min_rate)}"
    )
    return [
        make_alert(
            settings.output,
            "LLMRequestsRejected",
            expr,
            for_=rj.for_,
            severity="warning",
            summary="An inference engine keeps refusing a share of its requests.",
            description=_WHERE + " refuses {{ $value | humanizePercentage }} of its requests over "
            f"{rj.window} (admission limits, resource exhaustion or client errors) for {rj.for_}.",
            runbook=Runbook(
                meaning=(
                    "More than 5 % of the requests reaching the engine (and more than 0.1/s) were refused before "
                    "they were queued, for 10m: `llm_requests_rejected_total` by `reason` — vLLM's "
                    "`max_num_queued_reqs`/`max_num_queued_tokens` limits, Dynamo's `resource_exhausted`, "
                    "TensorRT-LLM's HTTP 4xx (`client_error`)."
                ),
                impact=("Clients get errors (HTTP 429/503 for admission limits) instead of answers; retries add load."),
                diagnose=(
                    "`sum by (reason) (rate(llm_requests_rejected_total[5m]))`: a queue limit means the engine is "
                    "saturated (see LLMQueuePressure, KV usage); `client_error` means malformed or over-long "
                    "requests — check the client's recent deployment and the engine log for the validation error."
                ),
                fix=(
                    "For admission limits: add replicas or raise the limit if latency allows. For client errors: "
                    "fix the client or raise the model's maximum length."
                ),
            ),
        )
    ]


def kv_transfer(settings: Settings) -> list[Rule]:
    """Disaggregated serving whose KV-cache transfers keep failing."""
    kt, labels = settings.kv_transfer, target_labels(settings.aggregation)
    failures = _sum(settings, labels, "increase", "llm_kv_transfer_failures_total", kt.window)
    return [
        make_alert(
            settings.output,
            "LLMKVTransferFailing",
            f"{failures} > 0",
            for_=kt.for_,
            severity="warning",
            summary="KV-cache transfers between prefill and decode workers keep failing.",
            description=_WHERE + " failed {{ $value | humanize }} KV-cache transfers in the last "
            f"{kt.window}, and transfers have kept failing for {kt.for_}.",
            runbook=Runbook(
                meaning=(
                    "A disaggregated (prefill/decode) engine reported failed KV-cache transfers "
                    "(`llm_kv_transfer_failures_total`: vLLM's NIXL, Mooncake and UMBP connectors, SGLang's "
                    "transfer failures) in every 5m window for 5m."
                ),
                impact=(
                    "Requests whose KV cache did not arrive are recomputed on the decode worker or fail: TTFT "
                    "rises and errors appear."
                ),
                diagnose=(
                    "The engine log of both workers names the peer and the transport error; check the network "
                    "between prefill and decode nodes (RDMA/NIC errors, a restarted peer) and the connector's "
                    "configuration after a rollout."
                ),
                fix=(
                    "Restart the failing peer or move it off the faulty node; fix the transport configuration. "
                    "If one pair keeps failing, route around it."
                ),
            ),
        )
    ]


def groups(settings: Settings) -> list[Group]:
    """The serving alert group."""
    rules = admission(settings) + speculative_decoding(settings) + kv_transfer(settings)
    return [Group("llm-exporter-serving", rules, settings.output.evaluation_interval, "Serving")]
