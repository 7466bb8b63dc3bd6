"""Engine-neutral backups of the vector store (every collection, the document registry included).

Chroma has no backup API and copying its folder under a running server is not guaranteed to be
consistent, so backups go through the store protocol (``export_page``) and restores through
``upsert``: the same code backs up a local embedded store and the server in AWS.

Layout under a destination (an S3 bucket/prefix or a directory)::

    {hourly|daily}/{backup_id}/parts/{collection}/{n:06d}.jsonl.gz   one part per exported page
    {hourly|daily}/{backup_id}/manifest.json                          written once every part is stored
    {hourly|daily}/{backup_id}/_COMPLETE                              written last: sha256 of the manifest
    state/in-progress.json                                            cursor of an unfinished backup

A backup exists for readers only once ``_COMPLETE`` does; retention is the bucket's lifecycle
rules by prefix (``daily/`` 30 days, ``hourly/`` 7 days), never this package.
"""
