"""Large documents finish inside one invocation, and the serverless cap keeps it that way.

Decision (layers/README.md): no continuation messages. One document is ingested by one invocation,
and the ingest function caps the extracted text at ``SERVERLESS_MAX_DOCUMENT_CHARS``. This test
ingests a 300-page PDF through the real handler, measures the throughput in CPU seconds (robust to
a busy test machine; on a dedicated 2-vCPU function the wall time is about the same, the pipeline
being mostly serial) and checks that a document at the cap would need less than 60% of Lambda's
15 minutes.
"""

from __future__ import annotations

import random
import time

import pytest

from knowledgebeast.aws.runtime import SERVERLESS_MAX_DOCUMENT_CHARS
from tests.functions import events
from tests.functions.conftest import Lambdas
from tests.utils.pdf_builder import text_pdf

LAMBDA_MAX_SECONDS = 900
PAGES = 300
NEEDLE_PAGE = 250
#: One page on a topic of its own, so the dense retrieval (which feeds the lexical scorer) finds it.
NEEDLE = [
    "The lighthouse keeper records the fog signal at dawn.",
    "Every morning the keeper climbs the lighthouse tower, checks the lamp and winds the foghorn.",
    "Ships passing the rocky headland are noted in the lighthouse log with the weather and visibility.",
]
WORDS = (
    "retrieval index query document chunk page model latency throughput cache bucket queue event "
    "sequencer tokenizer semantic lexical fusion rank score citation deploy stack layer runtime"
).split()


def big_pdf(pages: int) -> tuple[bytes, int]:
    rng = random.Random(7)
    content = []
    chars = 0
    for number in range(1, pages + 1):
        lines = [f"Chapter {number}"] + [" ".join(rng.choice(WORDS) for _ in range(11)) + "." for _ in range(16)]
        if number == NEEDLE_PAGE:
            lines = [f"Chapter {number}", *NEEDLE]
        chars += sum(len(line) for line in lines)
        content.append(lines)
    return text_pdf(content, title="Operations manual"), chars


@pytest.mark.slow
def test_300_page_pdf_in_one_invocation(lambdas: Lambdas, prefix: str) -> None:
    data, chars = big_pdf(PAGES)
    key = f"{prefix}/manuals/operations manual.pdf"
    lambdas.put(key, data, ContentType="application/pdf")

    wall, cpu = time.perf_counter(), time.process_time()
    results = lambdas.ingest.ingestor.handle_message(events.created(key, "0055AED6DC00000001"))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    assert [r.outcome for r in results] == ["indexed"]
    hits = lambdas.ask("when does the lighthouse keeper record the fog signal?", prefix, group_by_document=False)
    assert hits[0]["citation"]["source"] == f"s3://{events.BUCKET}/{key}"
    assert hits[0]["citation"]["page"] == NEEDLE_PAGE

    chars_per_cpu_second = chars / cpu
    at_cap = SERVERLESS_MAX_DOCUMENT_CHARS / chars_per_cpu_second
    print(
        f"\n{PAGES} pages, {chars} chars, {results[0].chunks} chunks: wall {wall:.1f} s, CPU {cpu:.1f} s, "
        f"{chars_per_cpu_second:,.0f} chars/CPU-s; a document at the cap "
        f"({SERVERLESS_MAX_DOCUMENT_CHARS:,} chars) needs ~{at_cap:.0f} CPU-s"
    )
    assert at_cap < 0.6 * LAMBDA_MAX_SECONDS


def test_document_over_the_serverless_cap_fails_permanently(lambdas: Lambdas, prefix: str) -> None:
    assert lambdas.ingest.settings.max_document_chars == SERVERLESS_MAX_DOCUMENT_CHARS
    key = f"{prefix}/huge.txt"
    words = "lorem ipsum dolor sit amet " * (SERVERLESS_MAX_DOCUMENT_CHARS // 27 + 1000)
    lambdas.put(key, words)
    with lambdas.captured_logs() as logs:
        assert lambdas.ingest_bodies(events.created(key, "0055AED6DC00000001")) == {"batchItemFailures": []}
    (failure,) = [line for line in logs if line.get("failure") == "permanent"]
    assert failure["key"] == key and "exceeds the limit" in failure["reason"]
