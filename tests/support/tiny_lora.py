"""A random-weight LoRA adapter for the tiny model (rank 4 on q_proj and v_proj), written in PEFT's layout.

`ensure_tiny_lora` runs this file as a script inside an engine venv (which has torch and safetensors), as
tiny_model does; the project's own Python never imports those libraries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RANK = 4


def ensure_tiny_lora(python: Path, model_dir: Path) -> Path:
    """The adapter for the model in `model_dir`, built with the venv interpreter `python` unless cached."""
    target = model_dir.with_name(model_dir.name + "-lora")
    if (target / "adapter_config.json").exists():
        return target
    result = subprocess.run(
        [str(python), "-I", __file__, str(model_dir), str(target)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the tiny LoRA adapter with {python} failed:\n{result.stderr}")
    return target


def build(model_dir: Path, out: Path) -> None:
    """Write adapter_config.json and adapter_model.safetensors (run inside an engine venv)."""
    import torch
    from safetensors.torch import save_file

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    hidden, head_dim = config["hidden_size"], config["head_dim"]
    outputs = {"q_proj": config["num_attention_heads"] * head_dim, "v_proj": config["num_key_value_heads"] * head_dim}
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for layer in range(config["num_hidden_layers"]):
        for proj, width in outputs.items():
            name = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
            tensors[f"{name}.lora_A.weight"] = (torch.randn(RANK, hidden, generator=generator) * 0.01).bfloat16()
            tensors[f"{name}.lora_B.weight"] = (torch.randn(width, RANK, generator=generator) * 0.01).bfloat16()
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    adapter = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": RANK, "lora_alpha": 2 * RANK, "bias": "none",
               "target_modules": sorted(outputs), "base_model_name_or_path": str(model_dir)}  # fmt: skip
    (out / "adapter_config.json").write_text(json.dumps(adapter), encoding="utf-8")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
