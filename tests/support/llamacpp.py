"""A real llama.cpp `llama-server` (built by scripts/build-llamacpp.sh) serving a tiny GGUF on 127.0.0.1.

The GGUF is written here, in pure Python, from the published GGUF v3 layout: a 2-layer Llama with random
weights and a character-level SentencePiece-style vocabulary (byte fallback for everything else). It needs no
torch, no tokenizer training and no converter, and takes well under a second to write.
"""

from __future__ import annotations

import hashlib
import random
import struct
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from tests.support.deps import INSTALL_HINT, MissingTestDependencyError, cache_dir
from tests.support.engines import EngineServer
from tests.support.ports import free_port
from tests.support.process import ManagedProcess

LLAMACPP_BUILD = 11434  # upstream tag b11434; keep equal to LLAMACPP_BUILD in scripts/build-llamacpp.sh
SERVED_MODEL = "tiny"
SLOTS = 2
CONTEXT = 16384  # all slots together; a character-level vocabulary makes prompts long in tokens
HTTP_THREADS = 16
STARTUP_TIMEOUT = 60.0


class Shape(NamedTuple):
    """A Llama's dimensions."""

    embed: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int


# Small enough to load in milliseconds, large enough to take measurable time per token.
TINY = Shape(embed=64, layers=2, heads=4, kv_heads=2, ffn=128)
# About 0.8 B parameters (3.2 GB in f32): keeps an H200 busy under a few concurrent requests (issue 19).
GPU_SIZED = Shape(embed=2048, layers=16, heads=16, kv_heads=8, ffn=5632)
# Random values drawn per tensor; a larger tensor repeats them, so a GPU-sized model is written in seconds.
_DRAWN = 1 << 16
BOS, EOS = 1, 2
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# GGUF value types, token types and tensor types used below (GGUF v3 specification).
_UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY = 4, 5, 6, 7, 8, 9
_TOKEN_NORMAL, _TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_BYTE = 1, 2, 3, 6
_GGML_F32 = 0
_ALIGNMENT = 32


def llama_server_binary() -> Path:
    """The cached llama-server; MissingTestDependencyError when the build script has not run."""
    binary = cache_dir() / f"llamacpp-b{LLAMACPP_BUILD}" / "llama-server"
    if not binary.exists():
        raise MissingTestDependencyError(f"no llama-server at {binary}: run scripts/build-llamacpp.sh ({INSTALL_HINT})")
    return binary


def vocabulary() -> list[tuple[str, int]]:
    """(token, type) pairs: unknown, BOS, EOS, the 256 byte tokens, the SentencePiece space mark, printable ASCII."""
    specials = [("<unk>", _TOKEN_UNKNOWN), ("<s>", _TOKEN_CONTROL), ("</s>", _TOKEN_CONTROL)]
    byte_tokens = [(f"<0x{b:02X}>", _TOKEN_BYTE) for b in range(256)]
    pieces = [("\u2581", _TOKEN_NORMAL)] + [(chr(c), _TOKEN_NORMAL) for c in range(0x21, 0x7F)]
    return specials + byte_tokens + pieces


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _metadata(tokens: list[tuple[str, int]], shape: Shape) -> Iterator[bytes]:
    def scalar(key: str, kind: int, fmt: str, value: object) -> bytes:
        return _string(key) + struct.pack("<I", kind) + struct.pack(fmt, value)

    def strings(key: str, values: Sequence[str]) -> bytes:
        return _string(key) + struct.pack("<IIQ", _ARRAY, _STRING, len(values)) + b"".join(map(_string, values))

    def numbers(key: str, kind: int, code: str, values: Sequence[float]) -> bytes:
        return _string(key) + struct.pack("<IIQ", _ARRAY, kind, len(values)) + array(code, values).tobytes()

    yield _string("general.architecture") + struct.pack("<I", _STRING) + _string("llama")
    yield _string("general.name") + struct.pack("<I", _STRING) + _string(SERVED_MODEL)
    for key, value in (
        ("context_length", CONTEXT),
        ("embedding_length", shape.embed),
        ("block_count", shape.layers),
        ("feed_forward_length", shape.ffn),
        ("attention.head_count", shape.heads),
        ("attention.head_count_kv", shape.kv_heads),
        ("rope.dimension_count", shape.embed // shape.heads),
        ("vocab_size", len(tokens)),
    ):
        yield scalar(f"llama.{key}", _UINT32, "<I", value)
    yield scalar("llama.attention.layer_norm_rms_epsilon", _FLOAT32, "<f", 1e-5)
    yield _string("tokenizer.ggml.model") + struct.pack("<I", _STRING) + _string("llama")
    yield strings("tokenizer.ggml.tokens", [text for text, _ in tokens])
    yield numbers("tokenizer.ggml.scores", _FLOAT32, "f", [-float(i) for i in range(len(tokens))])
    yield numbers("tokenizer.ggml.token_type", _INT32, "i", [kind for _, kind in tokens])
    for key, value in (("bos_token_id", BOS), ("eos_token_id", EOS), ("unknown_token_id", 0)):
        yield scalar(f"tokenizer.ggml.{key}", _UINT32, "<I", value)
    yield scalar("tokenizer.ggml.add_bos_token", _BOOL, "<?", True)
    yield _string("tokenizer.chat_template") + struct.pack("<I", _STRING) + _string(CHAT_TEMPLATE)


def _tensors(vocab: int, shape: Shape) -> list[tuple[str, tuple[int, ...], float]]:
    """(name, ggml shape with the fastest dimension first, init scale; 0 means all ones) of a Llama."""
    embed, ffn = shape.embed, shape.ffn
    kv = embed // shape.heads * shape.kv_heads
    tensors = [
        ("token_embd.weight", (embed, vocab), 0.5),
        ("output_norm.weight", (embed,), 0.0),
        ("output.weight", (embed, vocab), 0.2),
    ]
    for layer in range(shape.layers):
        tensors += [
            (f"blk.{layer}.{name}", dims, scale)
            for name, dims, scale in (
                ("attn_norm.weight", (embed,), 0.0),
                ("attn_q.weight", (embed, embed), 0.2),
                ("attn_k.weight", (embed, kv), 0.2),
                ("attn_v.weight", (embed, kv), 0.2),
                ("attn_output.weight", (embed, embed), 0.2),
                ("ffn_norm.weight", (embed,), 0.0),
                ("ffn_gate.weight", (embed, ffn), 0.2),
                ("ffn_up.weight", (embed, ffn), 0.2),
                ("ffn_down.weight", (ffn, embed), 0.2),
            )
        ]
    return tensors


def _pad(size: int) -> bytes:
    return b"\0" * (-size % _ALIGNMENT)


def _tensor_bytes(count: int, scale: float, rng: random.Random) -> bytes:
    """`count` f32 values: ones for scale 0, else uniform in +-scale (drawn up to _DRAWN, then repeated)."""
    if scale == 0.0:
        return array("f", [1.0]).tobytes() * count
    drawn = array("f", [rng.uniform(-scale, scale) for _ in range(min(count, _DRAWN))]).tobytes()
    return (drawn * -(-count // _DRAWN))[: 4 * count]


def write_gguf(path: Path, shape: Shape = TINY, seed: int = 0) -> None:
    """Write a random-weight Llama of `shape` as a GGUF v3 file (f32 tensors), one tensor in memory at a time."""
    tokens = vocabulary()
    tensors = _tensors(len(tokens), shape)
    rng = random.Random(seed)
    metadata = list(_metadata(tokens, shape))
    infos, offset = [], 0
    for name, dims, _ in tensors:
        infos.append(
            _string(name)
            + struct.pack("<I", len(dims))
            + struct.pack(f"<{len(dims)}Q", *dims)
            + struct.pack("<IQ", _GGML_F32, offset)
        )
        size = 4 * _count(dims)
        offset += size + len(_pad(size))
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + b"".join(metadata) + b"".join(infos)
    with path.open("wb") as out:
        out.write(header + _pad(len(header)))
        for _, dims, scale in tensors:
            blob = _tensor_bytes(_count(dims), scale, rng)
            out.write(blob + _pad(len(blob)))


def _count(dims: tuple[int, ...]) -> int:
    count = 1
    for dim in dims:
        count *= dim
    return count


def ensure_gguf(cache: Path, shape: Shape = TINY) -> Path:
    """The GGUF of `shape` under the cache, written unless a file from this same recipe exists."""
    recipe = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    stem = "tiny" if shape == TINY else f"llama-{shape.embed}x{shape.layers}"
    target = cache / "models" / f"{stem}-llamacpp-{recipe}.gguf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_suffix(".partial")
        write_gguf(staging, shape)
        staging.rename(target)
    return target


def llamacpp_server(
    log_dir: Path,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    *,
    shape: Shape = TINY,
    slots: int = SLOTS,
    env: dict[str, str] | None = None,
) -> EngineServer:
    """A llama-server (not yet started) for a random-weight GGUF of `shape` with /metrics on, `slots` parallel slots."""
    binary = llama_server_binary()
    model = ensure_gguf(cache_dir(), shape)
    port = port or free_port()
    argv = [
        str(binary), "-m", str(model), "--alias", SERVED_MODEL,
        "--host", "127.0.0.1", "--port", str(port), "--metrics",
        "-c", str(CONTEXT), "-np", str(slots), "--threads", "2",
        # Each open connection holds one HTTP worker; with the default pool a burst of requests plus the
        # exporter's keep-alive connection leaves none for /metrics, whose scrape then times out.
        "--threads-http", str(HTTP_THREADS),
        *extra_args,
    ]  # fmt: skip
    process = ManagedProcess(
        "llamacpp",
        argv,
        f"http://127.0.0.1:{port}/health",
        log_dir / f"llamacpp-{port}.log",
        env=env,
        startup_timeout=STARTUP_TIMEOUT,
    )
    server = EngineServer("llamacpp", port, process)
    server.model = SERVED_MODEL
    return server
