"""Engine.replicas: ranks that report the same numbers count once, ranks that report their own stay apart."""

from __future__ import annotations

from exporter.normalize import Normalizer
from exporter.parse import parse
from exporter.table import Engine, Row

ENGINE = Engine(
    engine_type="sglang",
    prefixes=("e:",),
    replicas=("tp_rank",),
    labels=(("model_name", "model"),),
    rows=(Row("running", "llm_requests_running"), Row("ttft", "gen_ai_server_time_to_first_token_seconds")),
)


def _running(text: str) -> list[tuple[str, float]]:
    families = Normalizer(ENGINE, "t").normalize(parse(text)).families
    return [(s.labels.get("dp_rank", ""), s.value) for f in families for s in f.samples]


def test_copies_from_higher_ranks_are_dropped():
    text = "# TYPE e:running gauge\n" + "".join(f'e:running{{model_name="m",tp_rank="{r}"}} 4\n' for r in range(4))
    assert _running(text) == [("", 4.0)]


def test_each_data_parallel_group_keeps_its_lowest_rank():
    # dp 2 x tp 2 with every scheduler logging: tp 0,1 serve dp 0 and tp 2,3 serve dp 1.
    text = "# TYPE e:running gauge\n" + "".join(
        f'e:running{{dp_rank="{r // 2}",model_name="m",tp_rank="{r}"}} {10 + r // 2}\n' for r in range(4)
    )
    assert _running(text) == [("0", 10.0), ("1", 11.0)]


def test_one_logging_rank_per_group_is_kept_whatever_its_number():
    text = '# TYPE e:running gauge\ne:running{dp_rank="3",model_name="m",tp_rank="3"} 2\n'
    assert _running(text) == [("3", 2.0)]


def test_series_without_the_label_and_histogram_buckets_pass_through():
    text = (
        "# TYPE e:ttft histogram\n"
        'e:ttft_bucket{le="0.1",tp_rank="0"} 1\ne:ttft_bucket{le="0.1",tp_rank="1"} 1\n'
        'e:ttft_bucket{le="+Inf",tp_rank="0"} 2\ne:ttft_bucket{le="+Inf",tp_rank="1"} 2\n'
        'e:ttft_count{tp_rank="0"} 2\ne:ttft_count{tp_rank="1"} 2\ne:ttft_sum 0.3\n'
    )
    families = Normalizer(ENGINE, "t").normalize(parse(text)).families
    assert [(s.name.rsplit("_", 1)[1], s.labels.get("le"), s.value) for f in families for s in f.samples] == [
        ("bucket", "0.1", 1.0),
        ("bucket", "+Inf", 2.0),
        ("count", None, 2.0),
        ("sum", None, 0.3),
    ]
