"""GPU health alerts: Xid tiers, ECC, row remapping, hardware slowdowns, temperature, memory, lost GPUs."""

from __future__ import annotations

from exporter.mixin.promql import alternatives, by, number, on, sample, selector
from exporter.mixin.rules.model import Group, Rule, Runbook, make_alert
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
            Runbook(
                meaning=(
                    "The driver reported an Xid that means the GPU needs a reset, drain or RMA "
                    "(default codes 48, 62, 64, 74, 79, 95, 119, 120) in the last 10m."
                ),
                impact="Work on that GPU is lost or corrupt; the engine using it usually crashes or hangs.",
                diagnose=(
                    "`dmesg | grep -i xid` on the node; `nvidia-smi -q` for the GPU's state and "
                    "pending recovery action."
                ),
                fix=(
                    "Cordon and drain the node, reset the GPU (or reboot); RMA on repeated double-bit errors or Xid 79."
                ),
            ),
        ),
        (
            "GPUXidWarning",
            f'xid=~"{alternatives(g.xid_warning)}"',
            "warning",
            "A GPU reported a contained Xid error.",
            Runbook(
                meaning="The driver reported a contained error (default Xid 94) in the last 10m.",
                impact="The affected application was stopped; the GPU itself keeps working.",
                diagnose="As for GPUXidCritical; check whether it repeats on the same GPU.",
                fix="Restart the affected engine; schedule a GPU reset at the next maintenance window.",
            ),
        ),
        (
            "GPUXid",
            f'xid!~"{known}"',
            "info",
            "A GPU reported an Xid event.",
            Runbook(
                meaning=(
                    "Any other Xid in the last 10m (informational; often an application fault such as Xid 13 or 31)."
                ),
                impact="Usually limited to one process.",
                diagnose="Look the code up in NVIDIA's Xid catalog; correlate with engine crashes.",
                fix=(
                    "Usually none for the GPU; fix the application if it repeats. Promote a code to "
                    "`gpu.xid_warning`/`gpu.xid_critical` if it matters in your fleet."
                ),
            ),
        ),
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
            runbook=runbook,
        )
        for name, matcher, severity, summary, runbook in tiers
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
            runbook=Runbook(
                meaning="The GPU counted new uncorrectable ECC errors in the last 10m.",
                impact="Memory contents may be corrupt; results from that GPU cannot be trusted.",
                diagnose="`nvidia-smi -q -d ECC,ROW_REMAPPER`.",
                fix=("Drain and reset the GPU so rows are remapped; RMA if errors repeat or remapping fails."),
            ),
        ),
        make_alert(
            out,
            "GPURowRemapFailure",
            f"{metric('llm_gpu_row_remap_failed')} == 1",
            for_="",
            severity="critical",
            summary="A GPU failed to remap a memory row.",
            description=_GPU + " failed a row remap, NVIDIA's criterion for an RMA.",
            runbook=Runbook(
                meaning="A memory row remap failed: NVIDIA's criterion for returning the GPU.",
                impact="The GPU cannot isolate its bad memory.",
                diagnose="`nvidia-smi -q -d ROW_REMAPPER`.",
                fix="Take the GPU out of service and open an RMA.",
            ),
        ),
        make_alert(
            out,
            "GPURowRemapPending",
            f"{metric('llm_gpu_row_remap_pending')} == 1",
            for_="",
            severity="warning",
            summary="A GPU waits for a reset to remap a memory row.",
            description=_GPU + " has a row remap pending; reset the GPU at the next maintenance window.",
            runbook=Runbook(
                meaning="A row remap is pending and takes effect at the next GPU reset.",
                impact="None yet; the bad row stays in use until the reset.",
                diagnose="`nvidia-smi -q -d ROW_REMAPPER`.",
                fix="Reset the GPU (drain first) at the next maintenance window.",
            ),
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
            runbook=Runbook(
                meaning="The GPU's hardware thermal slowdown has been active for 5m.",
                impact="Clocks are cut hard; token throughput drops.",
                diagnose=(
                    "`llm_gpu_temperature_celsius` against `llm_gpu_temperature_slowdown_celsius`; "
                    "fans and airflow of the chassis; neighbouring GPUs."
                ),
                fix=("Fix cooling (fans, blanking panels, inlet temperature); move load off the node meanwhile."),
            ),
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
            runbook=Runbook(
                meaning=(
                    "The external power brake (asserted by the chassis or power supply) has held the "
                    "GPU's clocks down for 5m."
                ),
                impact="Large throughput drop.",
                diagnose="Power supply health and the chassis management controller's event log.",
                fix="A hardware problem of the node: hand it to the data-centre team.",
            ),
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
            runbook=Runbook(
                meaning=("The GPU has run within 5 °C of its own slowdown temperature (read from the driver) for 10m."),
                impact="None yet; slowdown is close.",
                diagnose="Inlet temperature, fan speed, load.",
                fix="Improve cooling before it throttles.",
            ),
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
            runbook=Runbook(
                meaning=(
                    "More than 99 % of the GPU's memory has been in use for 10m. Engines reserve "
                    "about 90 % on purpose, so this means memory use beyond the reservation."
                ),
                impact="Out-of-memory errors in the engine or other processes.",
                diagnose=(
                    "`nvidia-smi` process list; `llm_gpu_engine_memory_used_bytes`; a second process on the GPU."
                ),
                fix="Remove the foreign process, or lower the engine's memory fraction.",
            ),
        ),
        make_alert(
            out,
            "GPULost",
            f"{metric('llm_gpu_up')} == 0",
            for_=g.missing_for,
            severity="warning",
            summary="A GPU stopped answering the driver.",
            description=_GPU + " is lost to NVML (fallen off the bus or needs a reset).",
            runbook=Runbook(
                meaning=(
                    "The GPU stopped answering NVML (fallen off the bus, or it needs a reset) for 10m "
                    "(`llm_gpu_up == 0`)."
                ),
                impact="Anything scheduled on that GPU fails.",
                diagnose='`dmesg` for Xid 79 / "fallen off the bus"; `nvidia-smi` on the node.',
                fix="Drain the node and reset or reboot; RMA if it repeats.",
            ),
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
            runbook=Runbook(
                meaning=(
                    "The exporter sees fewer GPUs than it did at some point in the last 6h, while its "
                    "GPU collector works."
                ),
                impact="Capacity lost; the engine may have fewer GPUs than its tensor parallelism needs.",
                diagnose="`nvidia-smi -L` on the node; device-plugin and driver logs.",
                fix=("As for GPULost. If GPUs were removed on purpose, the alert clears once the lookback passes."),
            ),
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
            runbook=Runbook(
                meaning=(
                    "The exporter's GPU collector has failed for 10m "
                    '(`llm_exporter_collector_up{collector="gpu"} == 0`) on an exporter that reported '
                    "GPUs in the last 6h. Exporters that never saw a GPU (CPU-only pods) report the "
                    "collector down by design and do not fire this alert."
                ),
                impact="GPU alerts and panels are blind on that node.",
                diagnose=(
                    "Exporter logs (NVML errors); whether the sidecar can see the GPUs at all (driver "
                    "libraries, `NVIDIA_VISIBLE_DEVICES`)."
                ),
                fix=(
                    "Give the container access to the GPUs, or collect GPUs from a node DaemonSet and "
                    "point `selectors.gpu` at it."
                ),
            ),
        ),
    ]


def groups(settings: Settings) -> list[Group]:
    """The GPU alert group."""
    return [Group("llm-exporter-gpu", gpu_alerts(settings), settings.output.evaluation_interval, "GPUs")]
