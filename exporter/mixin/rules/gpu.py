"""GPU health alerts: Xid tiers, ECC, row remapping, hardware slowdowns, temperature, memory, lost GPUs."""

from __future__ import annotations

from exporter.mixin.promql import alternatives, by, number, on, sample, selector
from exporter.mixin.rules.model import Group, Rule, make_alert
from exporter.mixin.settings import Settings

_GPU = "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }}"


def _new_xids(settings: Settings, counter: str) -> str:
    """Xids counted in the window, including a series born with its first event (increase() misses that one).

    A series counts as born only on a GPU the exporter already reported a window ago, so a Prometheus restart
    does not re-announce old Xids.
    """
    window, gpu_up = settings.gpu.error_window, selector(sample("llm_gpu_up"), settings.selectors.gpu)
    known_gpu = on([*settings.aggregation.instance_labels, "uuid"])
    return (
        f"increase({counter}[{window}]) > 0\nor\n"
        f"(({counter} > 0 unless {counter} offset {window}) and {known_gpu} {gpu_up} offset {window})"
    )


def _xid_tiers(settings: Settings) -> list[Rule]:
    g, out = settings.gpu, settings.output
    known = alternatives([*g.xid_critical, *g.xid_warning])
    tiers = [
        (
            "GPUXidCritical",
            f'xid=~"{alternatives(g.xid_critical)}"',
            "critical",
            "A GPU reported an Xid that needs a reset, drain or RMA.",
        ),
        ("GPUXidWarning", f'xid=~"{alternatives(g.xid_warning)}"', "warning", "A GPU reported a contained Xid error."),
        ("GPUXid", f'xid!~"{known}"', "info", "A GPU reported an Xid event."),
    ]
    return [
        make_alert(
            out,
            name,
            _new_xids(settings, selector(sample("llm_gpu_xid_errors_total"), settings.selectors.gpu, matcher)),
            for_="",
            severity=severity,
            summary=summary,
            description=_GPU
            + " reported Xid {{ $labels.xid }} in the last "
            + g.error_window
            + "; look it up in NVIDIA's Xid catalog and the kernel log.",
        )
        for name, matcher, severity, summary in tiers
    ]


def gpu_alerts(settings: Settings) -> list[Rule]:
    """Every GPU alert."""
    g, out = settings.gpu, settings.output
    sel = settings.selectors.gpu

    def metric(name: str, *matchers: str) -> str:
        return selector(sample(name), sel, *matchers)

    ecc = metric("llm_gpu_ecc_errors_total", 'type="uncorrected"')
    instance = settings.aggregation.instance_labels
    gpus = f"count {by(instance)} ({metric('llm_gpu_info')})"
    collector_up = metric("llm_exporter_collector_up", 'collector="gpu"')
    gpus_seen = f"count {by(instance)} (max_over_time({metric('llm_gpu_info')}[{g.missing_lookback}]))"
    temperature = metric("llm_gpu_temperature_celsius", 'sensor="gpu"')
    thermal, brake = 'reason="hw_thermal_slowdown"', 'reason="hw_power_brake_slowdown"'
    return [
        *_xid_tiers(settings),
        make_alert(
            out,
            "GPUEccUncorrectable",
            f"max without (counter) (increase({ecc}[{g.error_window}])) > 0",
            for_="",
            severity="critical",
            summary="A GPU reported uncorrectable ECC errors.",
            description=_GPU
            + " counted uncorrectable ECC errors in the last "
            + g.error_window
            + "; its memory contents may be corrupt: drain it and reset.",
        ),
        make_alert(
            out,
            "GPURowRemapFailure",
            f"{metric('llm_gpu_row_remap_failed')} == 1",
            for_="",
            severity="critical",
            summary="A GPU failed to remap a memory row.",
            description=_GPU + " failed a row remap, NVIDIA's criterion for an RMA.",
        ),
        make_alert(
            out,
            "GPURowRemapPending",
            f"{metric('llm_gpu_row_remap_pending')} == 1",
            for_="",
            severity="warning",
            summary="A GPU waits for a reset to remap a memory row.",
            description=_GPU + " has a row remap pending; reset the GPU at the next maintenance window.",
        ),
        make_alert(
            out,
            "GPUThermalSlowdown",
            f"{metric('llm_gpu_clock_event_active', thermal)} == 1",
            for_=g.slowdown_for,
            severity="warning",
            summary="A GPU slows its clocks because it is too hot.",
            description=_GPU
            + " has been in hardware thermal slowdown for "
            + g.slowdown_for
            + "; check cooling and airflow.",
        ),
        make_alert(
            out,
            "GPUPowerBrake",
            f"{metric('llm_gpu_clock_event_active', brake)} == 1",
            for_=g.slowdown_for,
            severity="warning",
            summary="A GPU's clocks are held down by the external power brake.",
            description=_GPU
            + " has been power-braked for "
            + g.slowdown_for
            + "; the power supply or the chassis asserted the brake signal.",
        ),
        make_alert(
            out,
            "GPUNearSlowdownTemperature",
            f"{temperature}\n>= ignoring (sensor)\n"
            f"({metric('llm_gpu_temperature_slowdown_celsius')} - {number(g.temperature_margin_celsius)})",
            for_=g.temperature_for,
            severity="warning",
            summary="A GPU runs close to its own slowdown temperature.",
            description=_GPU
            + " is at {{ $value }} °C, within "
            + number(g.temperature_margin_celsius)
            + " °C of the temperature at which it slows down.",
        ),
        make_alert(
            out,
            "GPUMemoryExhausted",
            f"{metric('llm_gpu_memory_used_bytes')}\n/\n{metric('llm_gpu_memory_total_bytes')}\n"
            f"> {number(g.memory_used_ratio)}",
            for_=g.memory_for,
            severity="warning",
            summary="A GPU's memory is exhausted.",
            description=_GPU + " uses {{ $value | humanizePercentage }} of its memory, beyond what the "
            "engine reserves: expect out-of-memory errors.",
        ),
        make_alert(
            out,
            "GPULost",
            f"{metric('llm_gpu_up')} == 0",
            for_=g.missing_for,
            severity="warning",
            summary="A GPU stopped answering the driver.",
            description=_GPU + " is lost to NVML (fallen off the bus or needs a reset).",
        ),
        make_alert(
            out,
            "GPUMissing",
            f"{gpus}\n< max_over_time({gpus}[{g.missing_lookback}:1m])\nand {on(instance)}\n{collector_up} == 1",
            for_=g.missing_for,
            severity="warning",
            summary="A GPU disappeared from its node.",
            description="The exporter on {{ $labels.instance }} sees {{ $value }} GPUs, fewer than in the "
            "last " + g.missing_lookback + ".",
        ),
        make_alert(
            out,
            "GPUCollectorFailing",
            # Only where GPUs were seen: a sidecar on a CPU-only pod reports the collector down by design.
            f"{collector_up} == 0\nand {on(instance)}\n{gpus_seen}",
            for_=g.collector_for,
            severity="warning",
            summary="The exporter cannot read its GPUs.",
            description="The GPU collector of the exporter on {{ $labels.instance }} has failed for "
            + g.collector_for
            + " where it reported GPUs in the last "
            + g.missing_lookback
            + "; GPU alerts are blind there.",
        ),
    ]


def groups(settings: Settings) -> list[Group]:
    """The GPU alert group."""
    return [Group("llm-exporter-gpu", gpu_alerts(settings), settings.output.evaluation_interval)]
