"""Data and comparisons shared by the backup tests."""

from __future__ import annotations

from dataclasses import dataclass

from knowledgebeast.store.base import Metadata, StoredChunk, VectorStoreProtocol

DOCS_COLLECTION = "docs"
VECTORS_COLLECTION = "vectors"
BUCKET = "kb-backups-test"

#: Small documents on distinct topics, so a chunk's own text finds that chunk first.
DOCS: dict[str, str] = {
    "volcanoes.md": (
        "# Volcanoes\n\nA stratovolcano is built from alternating layers of hardened lava and volcanic ash. "
        "Mount Fuji and Mount Rainier are classic examples of this steep, conical shape.\n\n"
        "## Eruptions\n\nPlinian eruptions eject columns of tephra tens of kilometres into the stratosphere; "
        "pyroclastic flows race down the flanks at hundreds of kilometres per hour.\n\n"
        "## Monitoring\n\nSeismometers, tiltmeters and sulfur dioxide spectrometers warn observatories "
        "days before magma reaches the surface."
    ),
    "sourdough.md": (
        "# Sourdough baking\n\nA sourdough starter is a culture of wild yeast and lactobacilli fed with flour "
        "and water. Feed it daily and keep it at room temperature before baking.\n\n"
        "## Bulk fermentation\n\nStretch and fold the dough every half hour; it is ready when it has grown "
        "by half and shows bubbles at the edges of the bowl.\n\n"
        "## Scoring and oven spring\n\nA razor cut lets steam escape, and a preheated Dutch oven traps "
        "moisture so the loaf rises before the crust sets."
    ),
    "chess.txt": (
        "Chess openings. The Sicilian Defence answers 1.e4 with c5 and fights for the centre asymmetrically. "
        "The Queen's Gambit offers a pawn on c4 to gain central control.\n\n"
        "Endgames reward king activity: in rook endings the Lucena and Philidor positions are the two "
        "techniques every club player should know by heart."
    ),
    "kubernetes.md": (
        "# Kubernetes scheduling\n\nThe scheduler filters nodes that cannot fit a pod's resource requests, "
        "then scores the rest by spreading and affinity rules.\n\n"
        "## Taints and tolerations\n\nA tainted node repels pods unless they carry a matching toleration; "
        "dedicated GPU nodes are usually tainted this way."
    ),
}


@dataclass
class CollectionSnapshot:
    metadata: Metadata
    chunks: dict[str, StoredChunk]


def snapshot(store: VectorStoreProtocol) -> dict[str, CollectionSnapshot]:
    """Every collection with every chunk (text, metadata, embedding), read through the protocol."""
    result: dict[str, CollectionSnapshot] = {}
    for info in store.list_collections():
        chunks: dict[str, StoredChunk] = {}
        offset: int | None = 0
        while offset is not None:
            page = store.export_page(info.name, offset=offset, limit=1000)
            chunks.update((chunk.id, chunk) for chunk in page.chunks)
            offset = page.next_offset
        result[info.name] = CollectionSnapshot(dict(info.metadata), chunks)
    return result


def flip_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context, with a controllable time left."""

    function_name = "knowledgebeast-backup"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:knowledgebeast-backup"
    memory_limit_in_mb = 1024
    aws_request_id = "0f6a1c2e-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/knowledgebeast-backup"
    log_stream_name = "2026/11/15/[$LATEST]0123456789abcdef"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
