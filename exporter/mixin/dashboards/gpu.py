"""The GPU dashboard: health (Xid, ECC, row remapping, clock events, thermals), utilization, GPM, power, energy."""

from __future__ import annotations

from grafanalib import core as g

from exporter.mixin.dashboards.common import GPU_UID, dashboard, gpu_memory_used_ratio
from exporter.mixin.dashboards.panels import Query, stat, timeseries
from exporter.mixin.dashboards.queries import RANGE, RATE, aggregate, recorded, selector, sum_increase, sum_rate
from exporter.mixin.dashboards.variables import datasource, label
from exporter.mixin.rules.recording import Recorded
from exporter.mixin.settings import Settings

S = {"job": "$job", "instance": "$instance", "gpu": "$gpu"}
HOST = {"job": "$job", "instance": "$instance"}  # series of the exporter (NVML, engines), not of one GPU
BY_GPU = ("instance", "gpu")
LEGEND = "{{instance}} GPU {{gpu}}"
PRESENT = "llm_gpu_up"  # every GPU the exporter has seen has it, lost ones included (value 0)
BAD_IF_ANY = ((None, "green"), (1, "red"))


def per_gpu(
    title: str,
    description: str,
    unit: str,
    sample: str,
    *,
    op: str = "max",
    ratio_axis: bool = False,
    width: int = 12,
    **matchers: str,
) -> g.Panel:
    """A time series of one gauge, one line per GPU."""
    return timeseries(
        title,
        description,
        unit,
        [Query(aggregate(op, sample, S, BY_GPU, **matchers), LEGEND)],
        ratio=ratio_axis,
        width=width,
    )


def xid_errors(settings: Settings, window: str, by: tuple[str, ...] = ()) -> str:
    """Xid errors in the window, a GPU's first one included, as the Xid alerts count them.

    The collector creates an Xid series at its first event, with value 1, so increase() over the window misses
    that event: a series born in the window counts its whole value, an older one its increase. As in the alerts,
    a series counts as born only on a GPU reported a window ago, so a Prometheus restart re-announces nothing.
    """
    xids = selector("llm_gpu_xid_errors_total", S)
    known_gpu = f"on ({', '.join([*settings.aggregation.instance_labels, 'uuid'])})"
    grown = f"increase({xids}[{window}]) and {xids} offset {window}"
    born = f"({xids} unless {xids} offset {window}) and {known_gpu} {selector(PRESENT, HOST)} offset {window}"
    # round: increase() extrapolates to the window's edges, and a count of Xid events is whole.
    return f"round(sum{' by (' + ', '.join(by) + ')' if by else ''} (({grown}) or ({born})))"


def _xid_codes(settings: Settings) -> str:
    critical = ", ".join(str(x) for x in settings.gpu.xid_critical)
    warning = ", ".join(str(x) for x in settings.gpu.xid_warning)
    return f"{critical} page (GPUXidCritical), {warning} opens a ticket (GPUXidWarning)"


def _health(settings: Settings) -> list[g.Panel]:
    return [
        stat(
            "GPUs up",
            "GPUs answering NVML. Healthy: every GPU of the node.",
            "none",
            Query(aggregate("sum", PRESENT, S)),
        ),
        stat(
            "GPUs lost",
            "GPUs that stopped answering NVML (fallen off the bus, Xid 79). Healthy: 0.",
            "none",
            Query(f"count({selector(PRESENT, S)} == 0)"),
            steps=BAD_IF_ANY,
            no_value="0",
        ),
        stat(
            "NVML up",
            "1 while the exporter's NVML library is initialised. Healthy: 1 on GPU nodes.",
            "none",
            Query(aggregate("min", "llm_gpu_nvml_up", HOST)),
            steps=((None, "red"), (1, "green")),
        ),
        stat(
            "Xid errors (range)",
            "Xid errors reported by the driver in the time range, a GPU's first one included. Healthy: none; "
            f"{_xid_codes(settings)}.",
            "short",
            Query(xid_errors(settings, RANGE)),
            steps=BAD_IF_ANY,
            no_value="none seen",
        ),
        stat(
            "Uncorrected ECC (range)",
            "Uncorrectable memory errors in the time range. Healthy: 0; any means a row remap or a GPU reset is due.",
            "short",
            Query(sum_increase("llm_gpu_ecc_errors_total", S, type="uncorrected", counter="volatile")),
            steps=BAD_IF_ANY,
            no_value="none seen",
        ),
        stat(
            "Row remap pending / failed",
            "GPUs with a row remap waiting for a reset, or one that failed. "
            "Healthy: 0; failed means the GPU should be replaced.",
            "none",
            Query(
                f"{aggregate('sum', 'llm_gpu_row_remap_pending', S)} + "
                f"{aggregate('sum', 'llm_gpu_row_remap_failed', S)}"
            ),
            steps=BAD_IF_ANY,
        ),
    ]


def _utilization() -> list[g.Panel]:
    return [
        per_gpu(
            "GPU utilization",
            "Fraction of time a kernel ran. Healthy: high while serving. It counts any "
            "kernel, so use the GPM panels for how busy the SMs really are.",
            "percentunit",
            "llm_gpu_utilization_ratio",
            ratio_axis=True,
            width=8,
        ),
        per_gpu(
            "Memory bandwidth utilization",
            "Fraction of time device memory was read or written. Healthy: high during decode, which is memory-bound.",
            "percentunit",
            "llm_gpu_memory_bandwidth_utilization_ratio",
            ratio_axis=True,
            width=8,
        ),
        timeseries(
            "Memory used",
            "Device memory in use over installed. Healthy: flat after the engine starts "
            "(engines reserve their KV cache up front); growth means a leak.",
            "percentunit",
            [Query(gpu_memory_used_ratio(S, BY_GPU), LEGEND)],
            ratio=True,
            width=8,
        ),
        timeseries(
            "SM activity (GPM)",
            "Fraction of time SMs had a warp resident, and resident warps over the "
            "maximum (Hopper and later). Healthy: SM active high while serving; low occupancy with high "
            "activity is normal for large kernels.",
            "percentunit",
            [
                Query(aggregate("max", "llm_gpu_sm_active_ratio", S, BY_GPU), f"{LEGEND} SM active"),
                Query(aggregate("max", "llm_gpu_sm_occupancy_ratio", S, BY_GPU), f"{LEGEND} occupancy"),
            ],
            ratio=True,
        ),
        timeseries(
            "Tensor and DRAM activity (GPM)",
            "Tensor-core pipe activity and memory-interface activity "
            "(Hopper and later). Healthy: tensor high in prefill, DRAM high in decode.",
            "percentunit",
            [
                Query(aggregate("max", "llm_gpu_tensor_active_ratio", S, BY_GPU), f"{LEGEND} tensor"),
                Query(aggregate("max", "llm_gpu_dram_active_ratio", S, BY_GPU), f"{LEGEND} DRAM"),
            ],
            ratio=True,
        ),
    ]


def _memory() -> list[g.Panel]:
    return [
        timeseries(
            "Memory by state",
            "Device memory used, free and reserved by the driver. Healthy: free never "
            "near 0 outside the engine's own reservation.",
            "bytes",
            [
                Query(aggregate("sum", "llm_gpu_memory_used_bytes", S, BY_GPU), f"{LEGEND} used"),
                Query(aggregate("sum", "llm_gpu_memory_free_bytes", S, BY_GPU), f"{LEGEND} free"),
                Query(aggregate("sum", "llm_gpu_memory_reserved_bytes", S, BY_GPU), f"{LEGEND} reserved"),
            ],
            width=8,
        ),
        timeseries(
            "Memory used by the engine",
            "Device memory held by the watched engine's processes. Healthy: "
            "most of the GPU's used memory; the rest belongs to someone else.",
            "bytes",
            [
                Query(
                    aggregate("sum", "llm_gpu_engine_memory_used_bytes", S, (*BY_GPU, "engine_type")),
                    f"{LEGEND} {{{{engine_type}}}}",
                )
            ],
            width=8,
        ),
        per_gpu(
            "Compute processes",
            "Processes using the GPU. Healthy: the engine's workers only; extra processes compete for memory.",
            "short",
            "llm_gpu_processes",
            width=8,
        ),
    ]


def _power(settings: Settings) -> list[g.Panel]:
    return [
        timeseries(
            "Power and limit",
            "Power draw against the enforced limit. Healthy: below the limit; riding "
            "it means the sw_power_cap clock event slows the GPU.",
            "watt",
            [
                Query(aggregate("sum", "llm_gpu_power_watts", S, BY_GPU), f"{LEGEND} draw"),
                Query(aggregate("min", "llm_gpu_power_limit_watts", S, BY_GPU), f"{LEGEND} limit"),
            ],
            width=8,
        ),
        timeseries(
            "Energy",
            "Energy used per rate interval, from the driver's energy counter. Healthy: follows "
            "load; idle GPUs still draw 60-100 W.",
            "joule",
            [Query(sum_increase("llm_gpu_energy_joules_total", S, BY_GPU, window=RATE), LEGEND)],
            width=8,
        ),
        timeseries(
            "Output tokens per joule",
            "Output tokens per joule of GPU energy per exporter. Healthy: "
            "higher is better; it rises with batch size and falls when GPUs idle.",
            "count:tok/J",
            [Query(recorded(Recorded(settings).tokens_per_joule, HOST), "{{instance}}")],
            width=8,
        ),
    ]


def _thermals_and_clocks() -> list[g.Panel]:
    return [
        timeseries(
            "Temperature and slowdown threshold",
            "Temperature by sensor against the temperature at which "
            "the GPU slows down. Healthy: at least 10 °C below the threshold.",
            "celsius",
            [
                Query(
                    aggregate("max", "llm_gpu_temperature_celsius", S, (*BY_GPU, "sensor")), f"{LEGEND} {{{{sensor}}}}"
                ),
                Query(aggregate("min", "llm_gpu_temperature_slowdown_celsius", S, BY_GPU), f"{LEGEND} slowdown"),
            ],
        ),
        timeseries(
            "Clocks and maximum",
            "Current clock by domain against its maximum. Healthy: the SM clock near "
            "the maximum under load; lower means a clock event (see next panels).",
            "hertz",
            [
                Query(aggregate("max", "llm_gpu_clock_hertz", S, (*BY_GPU, "clock")), f"{LEGEND} {{{{clock}}}}"),
                Query(
                    aggregate("max", "llm_gpu_clock_max_hertz", S, (*BY_GPU, "clock")), f"{LEGEND} {{{{clock}}}} max"
                ),
            ],
        ),
        timeseries(
            "Clock-event reasons active",
            "Clock-event (throttle) reasons active now, 1 each. Healthy: "
            "only gpu_idle or none; hw_slowdown, sw_thermal or power_brake need attention.",
            "none",
            [Query(aggregate("max", "llm_gpu_clock_event_active", S, (*BY_GPU, "reason")), f"{LEGEND} {{{{reason}}}}")],
            stack=True,
        ),
        timeseries(
            "Time under clock events",
            "Share of time each GPU spent under each clock-event reason. "
            "Healthy: near 0 for the thermal and power-brake reasons.",
            "percentunit",
            [Query(sum_rate("llm_gpu_clock_event_seconds_total", S, (*BY_GPU, "reason")), f"{LEGEND} {{{{reason}}}}")],
            ratio=True,
        ),
    ]


def _errors(settings: Settings) -> list[g.Panel]:
    return [
        timeseries(
            "Xid errors by code",
            f"Xid errors per rate interval by code, a GPU's first one included. Healthy: none; {_xid_codes(settings)}.",
            "short",
            [Query(xid_errors(settings, RATE, (*BY_GPU, "xid")), f"{LEGEND} Xid {{{{xid}}}}")],
            width=8,
        ),
        timeseries(
            "ECC errors",
            "ECC errors per rate interval by type (volatile counters). Healthy: no "
            "uncorrected errors; a rising corrected rate predicts row remaps.",
            "short",
            [
                Query(
                    sum_increase("llm_gpu_ecc_errors_total", S, (*BY_GPU, "type"), window=RATE, counter="volatile"),
                    f"{LEGEND} {{{{type}}}}",
                )
            ],
            width=8,
        ),
        timeseries(
            "Remapped rows",
            "Memory rows remapped so far by cause. Healthy: 0 uncorrectable; a few "
            "correctable are normal over a GPU's life.",
            "short",
            [Query(aggregate("max", "llm_gpu_remapped_rows_total", S, (*BY_GPU, "type")), f"{LEGEND} {{{{type}}}}")],
            width=8,
        ),
        timeseries(
            "PCIe replays",
            "PCIe packet replays per second. Healthy: 0; a steady rate points at a bad link or riser.",
            "ops",
            [Query(sum_rate("llm_gpu_pcie_replays_total", S, BY_GPU), LEGEND)],
        ),
        timeseries(
            "NVLink traffic",
            "Bytes per second over all NVLinks. Healthy: traffic during tensor-parallel "
            "serving; 0 on a TP>1 engine means it fell back to PCIe.",
            "Bps",
            [
                Query(sum_rate("llm_gpu_nvlink_transmit_bytes_total", S, BY_GPU), f"{LEGEND} tx"),
                Query(sum_rate("llm_gpu_nvlink_receive_bytes_total", S, BY_GPU), f"{LEGEND} rx"),
            ],
        ),
    ]


def build(settings: Settings) -> g.Dashboard:
    """The GPU dashboard."""
    variables = [
        datasource(),
        label("job", "Job", PRESENT, {}, matchers=settings.selectors.gpu),
        label("instance", "Instance", PRESENT, {"job": "$job"}),
        label("gpu", "GPU", PRESENT, HOST),
    ]
    return dashboard(
        GPU_UID,
        "LLM / GPU",
        "NVIDIA GPU health and efficiency from NVML: errors, thermals, clock events, utilization, energy.",
        variables,
        [
            ("Health", _health(settings)),
            ("Utilization", _utilization()),
            ("Memory", _memory()),
            ("Power and energy", _power(settings)),
            ("Thermals and clocks", _thermals_and_clocks()),
            ("Errors", _errors(settings)),
        ],
    )
