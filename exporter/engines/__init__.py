"""Engine tables, one module per engine_type; ENGINES lists them in detection order."""

from exporter.engines import dynamo, llamacpp, sglang, tgi, triton, trtllm, vllm
from exporter.table import Engine

ENGINES: dict[str, Engine] = {
    module.ENGINE.engine_type: module.ENGINE for module in (vllm, sglang, tgi, llamacpp, triton, trtllm, dynamo)
}
