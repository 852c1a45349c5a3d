"""NVIDIA GPU metrics through NVML (nvidia-ml-py): the collector the daemon polls and renders."""

from exporter.gpu.collector import GpuCollector

__all__ = ["GpuCollector"]
