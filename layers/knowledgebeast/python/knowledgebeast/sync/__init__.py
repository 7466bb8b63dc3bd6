"""Keep the index equal to a source (a local folder or an S3 prefix): sync, reconcile, DLQ redrive.

- :mod:`.sources` lists a source and reads one entry, with the stamp that identifies its version;
- :mod:`.plan` compares a listing with the document registry (added, changed, unchanged, orphaned);
- :mod:`.runner` applies a plan in-process (the ``knowledgebeast sync`` command);
- :mod:`.reconcile` applies it through the ingest queue, bounded per run (the scheduled Lambda);
- :mod:`.redrive` replays the ingest dead-letter queue;
- :mod:`.cli` registers the ``sync`` and ``redrive`` subcommands.
"""
