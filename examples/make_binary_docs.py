"""Regenerate the binary sample documents in examples/docs from the text in this script.

    . .venv/bin/activate && pip install fpdf2 && python examples/make_binary_docs.py

Writes ``operations-runbook.pdf`` (fpdf2) and ``security-guide.docx`` (python-docx). The output
is committed, so ``make run`` needs neither library; this script only has to run again when the
text below changes. Dates inside both files are fixed, so rerunning without edits reproduces
the same content. The PDF uses a core font, so its text must stay within Latin-1.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

DOCS = Path(__file__).resolve().parent / "docs"
FIXED_DATE = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
AUTHOR = "KnowledgeBeast maintainers"

# Blocks: ("h1" | "h2" | "p" | "li" | "code", text).
RUNBOOK_TITLE = "KnowledgeBeast operations runbook"
RUNBOOK: list[tuple[str, str]] = [
    ("h1", RUNBOOK_TITLE),
    ("p", "This runbook is for the people on call for a KnowledgeBeast deployment in AWS. It lists the "
          "health endpoints, every alarm with what it means and what to do about it, and the backup "
          "schedule with the restore procedure. Logs are in CloudWatch Logs, one log group per function, "
          "one JSON object per line. Every API response carries an X-Request-ID header, and the same id "
          "is in the log line of that request: ask users for it when they report a problem."),
    ("h2", "1. Health endpoints"),
    ("p", "Four endpoints tell you how a server is doing. They need no credentials, except that an "
          "administrator may choose to keep /metrics private."),
    ("li", "GET /health answers 200 as long as the process runs, with the version, the environment and "
           "the time. It also says \"auth\": \"disabled (development mode)\" when authentication is off, "
           "which must never be the case in production. Use it for uptime checks only: it does not look "
           "at ChromaDB or the cache."),
    ("li", "GET /health/ready answers 200 when the server can answer queries and 503 when it cannot. It "
           "checks each dependency and reports it under \"checks\": store (the ChromaDB heartbeat, "
           "embedded or http), embedder (the ONNX model is loaded), cache (ok, degraded or disabled) and "
           "reranker (ok or disabled). A cache that is down only makes the answer \"degraded\": queries "
           "still run, uncached, so readiness stays 200. A down store or model makes it 503."),
    ("li", "GET /health/live answers 200 while the process is up. On the EKS fallback it is the "
           "liveness probe and /health/ready is the readiness probe."),
    ("li", "GET /metrics is the Prometheus exposition of the process. The useful series are "
           "http_requests_total and http_request_duration_seconds (by method, route template and "
           "status), cache_requests_total and cache_hits_total, query_stage_duration_seconds by stage "
           "(cache, embed, search, lexical, rerank, cache_write), ingest_documents_total by result, "
           "ingest_chunks_total, embedding_batch_seconds and backup_last_success_timestamp_seconds. In "
           "Lambda the same figures are published to CloudWatch in the KnowledgeBeast namespace, which "
           "is what the alarms below watch."),
    ("h2", "2. Alerts and what to do"),
    ("p", "The CDK creates CloudWatch alarms that publish to the KnowledgeBeast alarms SNS topic; deploy "
          "with -c alarm_email=you@example.com to receive them by e-mail. Each section below gives the "
          "alert name used on dashboards and in Prometheus rules, with the CloudWatch alarm in brackets. "
          "Thresholds can be changed with CDK context values (api_5xx_rate_percent, query_p95_ms) and a "
          "redeploy."),
    ("h2", "2.1 HighErrorRate: more than 5 % of API requests fail with 5xx"),
    ("p", "CloudWatch alarm: Api5xxRate, in two of three five-minute periods. "
          "Users get errors instead of answers. Client errors (400, 401, 403, 404, 429) do not count; "
          "only server errors do. Look at the error code in the logs: every error response has the shape "
          "{\"error\": {\"code\", \"message\", \"request_id\", \"details\"}}."),
    ("li", "store_unavailable (503): the query Lambda cannot reach ChromaDB. Open the ECS console and check "
           "the ChromaDB service: a stopped task, an out-of-memory kill or a failed health check (the "
           "ChromaTaskNotRunning alarm fires when no task has run for three minutes). Force a new task "
           "with aws ecs update-service --cluster <cluster> --service <chroma-service> "
           "--force-new-deployment. The index lives on EFS, so a new task starts with the same data. If "
           "the task runs out of memory, redeploy with a larger chroma_memory_mib. ChromaDB runs as a "
           "single task, so a deployment of the vector store also causes a short burst of 503s."),
    ("li", "service_unavailable (503) with Retry-After: more concurrent queries than "
           "MAX_CONCURRENT_QUERIES allows. Usually a traffic spike; check the request rate and raise the "
           "limit or the function memory if the spike is legitimate."),
    ("li", "query_timeout (504): a query ran longer than QUERY_TIMEOUT. Treat it like HighLatency below."),
    ("li", "internal_error (500) right after a deployment: roll back by deploying the previous release "
           "(check out the previous tag, make layers, cdk deploy --all), then investigate the logs."),
    ("h2", "2.2 HighLatency: p95 query latency above 500 ms"),
    ("p", "CloudWatch alarm: QueryLatencyP95, the API Gateway p95 above 500 ms for 15 minutes. Answers "
          "are slow. Find the slow stage with query_stage_duration_seconds before changing anything:"),
    ("li", "embed is slow: the query Lambda is short of CPU (Lambda CPU grows with memory; raise "
           "query_memory_mib) or suffers cold starts after a quiet period (consider provisioned "
           "concurrency for steady traffic)."),
    ("li", "search is slow: ChromaDB is short of CPU or memory, the collection has grown, or queries use "
           "metadata filters (each filter adds tens of milliseconds). Scale the Fargate task "
           "(chroma_cpu, chroma_memory_mib) or lower HNSW_EF_SEARCH, which trades a little recall for speed."),
    ("li", "rerank is slow: the cross-encoder scores 50 candidates per query by default; lower "
           "RERANK_TOP_N or give the function more memory."),
    ("li", "everything is slow at once: check the cache hit rate (next alarm) and the ElastiCache CPU."),
    ("h2", "2.3 LowCacheHitRate: cache hit rate below 20 % for an hour"),
    ("p", "The hit rate is cache_hits_total divided by cache_requests_total. A low rate costs latency "
          "and money but loses no data, so it is a dashboard and Prometheus alert, not a CloudWatch alarm "
          "that pages anyone. Common causes:"),
    ("li", "Frequent writes. Every ingest or delete moves its collection to a new version, which "
           "invalidates all cached answers for that collection. A job that uploads one file a minute "
           "keeps the cache empty; upload in batches instead."),
    ("li", "The cache is unreachable. /health/ready shows the cache as degraded; check the ElastiCache "
           "cluster, its security group and whether the auth token in Secrets Manager was changed "
           "without a redeploy."),
    ("li", "The cache is too small and evicts entries: check the ElastiCache evictions metric and use a "
           "larger cache_node_type."),
    ("li", "The questions really are all different. Then the alarm threshold is wrong for this "
           "workload: lower it rather than ignore it."),
    ("h2", "2.4 IngestFailures: the ingest dead-letter queue is not empty"),
    ("p", "CloudWatch alarm: IngestDlqNotEmpty. "
          "A document was tried five times and could not be ingested. Its message waits in the "
          "dead-letter queue (DLQ) for 14 days. Find the reason in the ingest function's log group: the "
          "failure line names the file and the reason."),
    ("li", "parse_error or unsupported_format: the file is corrupt, encrypted, a scanned PDF without a "
           "text layer, or a type KnowledgeBeast does not read. Fix or convert the file and upload it "
           "again under the same key; then delete the old message from the DLQ."),
    ("li", "payload_too_large: the file is over 50 MB or 2,000 pages. Split it."),
    ("li", "store_unavailable or a timeout: a transient problem. Once ChromaDB is healthy again, move "
           "the messages back to the ingest queue with aws sqs start-message-move-task --source-arn "
           "<dlq-arn>. Ingest is idempotent, so replaying a message never duplicates a document."),
    ("li", "Many large files time out: raise ingest_timeout_seconds (at most 900) and "
           "ingest_memory_mib, redeploy, then redrive."),
    ("h2", "2.5 BackupStale: no successful backup for more than 2 hours"),
    ("p", "CloudWatch alarms: BackupMissing (no successful backup recorded for two consecutive hours) "
          "and BackupErrors (a run failed). Backups run at the top of every hour, so two missed runs "
          "trigger BackupMissing. Open the backup function's log group and look at the last runs:"),
    ("li", "ChromaDB unreachable: see store_unavailable above; the next hourly run catches up."),
    ("li", "Access denied on S3 or KMS: someone changed a bucket policy or the key policy. Revert it or "
           "redeploy the stacks to restore the permissions."),
    ("li", "\"incomplete\" runs: a run that reaches its time budget saves a cursor and the next run "
           "resumes from it, so one incomplete run is normal for a large index. If runs never complete, "
           "the index has outgrown the function: raise backup_memory_mib and redeploy."),
    ("p", "After fixing the cause, run a backup at once with aws lambda invoke --function-name "
          "<backup-function> out.json and check that the alarm returns to OK."),
    ("h2", "3. Backups"),
    ("p", "The backup function is started by an EventBridge schedule every hour. It exports every "
          "collection through the ChromaDB API (chunk texts, vectors and metadata) together with the "
          "document registry, page by page, into gzipped parts in the backups bucket, then writes a "
          "manifest with the SHA-256 checksum, record count and size of every part, and finally a "
          "_COMPLETE marker. A backup without the marker does not exist for verify and restore. The "
          "first backup completed in each UTC day is a daily backup, stored under daily/<backup-id>/; "
          "the others are hourly backups under hourly/<backup-id>/."),
    ("li", "Retention: daily backups are kept for 30 days and hourly backups for 7 days, enforced by "
           "S3 lifecycle rules on the two prefixes. Deleted documents therefore disappear from backups "
           "after 30 days at most."),
    ("li", "The backups bucket is versioned, encrypted with the deployment's KMS key, blocks all public "
           "access and is retained by cdk destroy."),
    ("li", "Recovery point: at most one hour of ingests is missing from a backup, and those documents "
           "are still in the documents bucket, so they can be replayed."),
    ("li", "The same commands work locally: knowledgebeast backup writes to ./data/backups, and "
           "s3://<backups-bucket>/latest or data/backups/latest names the newest complete backup."),
    ("h2", "3.1 Restore procedure"),
    ("p", "Restore when ChromaDB has lost its data, a collection was deleted by mistake, or you move to "
          "a new deployment. Run the knowledgebeast commands from a machine or ECS task that can reach "
          "ChromaDB inside the VPC, with CHROMA_HOST and CHROMA_AUTH_TOKEN set and read access to the "
          "backups bucket."),
    ("li", "1. Choose a backup: aws s3 ls s3://<backups-bucket>/hourly/ (or daily/ for older ones) and "
           "take the newest one from before the incident. s3://<backups-bucket>/latest is the newest "
           "complete backup of either kind."),
    ("li", "2. Verify it before you rely on it: knowledgebeast verify "
           "s3://<backups-bucket>/hourly/<backup-id>. It reads the manifest, the marker and every part, "
           "recomputes the checksums and lists every problem; it must report the backup as valid."),
    ("li", "3. Pause ingestion so that no writes race the restore: aws lambda put-function-concurrency "
           "--function-name <ingest-function> --reserved-concurrent-executions 0. New uploads wait in the "
           "ingest queue, which keeps messages for 4 days."),
    ("li", "4. Restore: knowledgebeast restore s3://<backups-bucket>/hourly/<backup-id>. Every part is "
           "downloaded and checked before anything is written, so a damaged backup leaves the store "
           "untouched. Collections that already hold data are refused; add --force to replace them. The "
           "document registry is written last, and restored collections get a new version, so no "
           "cached answer from before the restore is served."),
    ("li", "5. Check the result: the restore prints the chunk count of every collection. Compare it "
           "with knowledgebeast collections and with the manifest; do not continue until they agree."),
    ("li", "6. Resume ingestion: set the reserved concurrency back (aws lambda put-function-concurrency "
           "... --reserved-concurrent-executions 2, the default). Waiting uploads are processed, and "
           "documents already in the backup are recognised as unchanged and skipped."),
    ("li", "7. Check /health/ready and run a known query, for example \"How do I deploy to AWS?\"."),
    ("p", "Practise the procedure once a month: restore the latest backup into a scratch deployment or "
          "into a local checkout (DATA_DIR=/tmp/kb-restore knowledgebeast restore data/backups/latest) "
          "and compare the counts. A backup that has never been restored is only a hope."),
]

SECURITY_TITLE = "KnowledgeBeast security guide"
# Blocks as above plus ("table", rows) for the scope table.
SECURITY: list[tuple[str, object]] = [
    ("h1", SECURITY_TITLE),
    ("p", "KnowledgeBeast holds your company's documents, so access to it is access to them. This guide "
          "describes how callers authenticate, what each credential may do, how tenants are kept apart, "
          "how abuse is limited and where secrets live. Read it before exposing a deployment."),
    ("h1", "Authentication"),
    ("p", "Every request except the health endpoints must carry one credential: an API key or a JSON "
          "Web Token (JWT). A request without one gets 401 with the message \"missing credentials\"."),
    ("h2", "API keys (X-API-Key)"),
    ("p", "Send the key in the X-API-Key header: curl -H \"X-API-Key: $API_KEY\" .../api/v1/query. The "
          "server reads its keys from API_KEY as a comma-separated list, or in AWS from the ApiKeys "
          "secret in Secrets Manager (API_KEYS_SECRET_ARN). Only SHA-256 digests of the keys are kept in "
          "memory, and a presented key is compared with every entry in constant time, so neither memory "
          "dumps nor response timing reveal a key. Keys generated by the CDK are 48 random letters and "
          "digits."),
    ("p", "To rotate a key without downtime, add the new key to the list, give it to the clients, then "
          "remove the old key once no request uses it. An API key carries every scope; use JWTs when a "
          "caller should only read."),
    ("h2", "JWT bearer tokens (HS256)"),
    ("p", "Send a token in the Authorization header: Authorization: Bearer <token>. Tokens must be "
          "signed with HS256 using the shared key in JWT_SECRET (in AWS, the JwtSecret secret). Other "
          "algorithms, including \"none\", are refused. The claims sub, iat and exp are required; exp and "
          "nbf are enforced with five seconds of clock leeway; iss and aud are checked when JWT_ISSUER "
          "and JWT_AUDIENCE are set. The scopes come from the \"scope\" claim (space-separated, as in "
          "OAuth 2.0) or a \"scopes\" list, and an optional \"collections\" list restricts the tenant. "
          "For example: {\"sub\": \"support-bot\", \"scope\": \"query\", \"collections\": [\"support\"], "
          "\"iat\": 1767000000, \"exp\": 1767003600}. Keep tokens short-lived: an hour is plenty for a "
          "service that can ask its identity provider for a new one."),
    ("h1", "Authorization"),
    ("h2", "Scopes: query, ingest and admin"),
    ("p", "A JWT grants only the scopes it lists; unknown scope names are ignored. A request that needs a "
          "scope the credential lacks gets 403. The admin scope includes the other two."),
    ("table", [
        ("Scope", "Allows", "Endpoints"),
        ("query", "Search and read", "POST /api/v1/query, GET /api/v1/collections, "
                                     "GET /api/v1/collections/{name}, GET /api/v1/documents/{id}"),
        ("ingest", "Add, replace and delete documents", "POST /api/v1/documents, "
                                                        "POST /api/v1/documents/upload, "
                                                        "DELETE /api/v1/documents/{id}"),
        ("admin", "Everything, plus destructive operations", "DELETE /api/v1/collections/{name}, "
                                                             "POST /api/v1/cache/clear"),
    ]),
    ("h2", "Tenant isolation with per-key collection restrictions"),
    ("p", "Give each tenant (a customer, a department) its own collection and restrict its credentials "
          "to it. For an API key, write the entry as key:collection1|collection2, for example "
          "API_KEY=k7Rq...:hr|hr-archive,Zp4m...:finance. For a JWT, list the collections in the "
          "\"collections\" claim. A restricted credential gets 403 for any other collection, on every "
          "endpoint, and GET /api/v1/collections lists only the collections it may see. In S3 the "
          "collection is the first part of the object key, so grant each tenant's uploader IAM access "
          "to its own prefix only."),
    ("h1", "Rate limiting"),
    ("p", "Each client may make 100 requests per minute (RATE_LIMIT_PER_MINUTE). A client is identified "
          "by its API key or JWT subject. The counters live in the shared cache (ElastiCache in AWS), so "
          "the limit holds across all Lambda instances. A request over the limit gets 429 Too Many "
          "Requests with a Retry-After header giving the seconds to wait; well-behaved clients sleep that "
          "long and retry. API Gateway throttling (50 requests per second, bursts of 100 by default) "
          "sits in front as a second line of defence for the whole API."),
    ("h1", "Production safeguards"),
    ("h2", "Production refuses to start without credentials"),
    ("p", "With APP_ENV=production or APP_ENV=staging the server checks at start-up that API_KEY or "
          "JWT_SECRET (or their *_SECRET_ARN) is set, and otherwise stops with \"Refusing to start an open "
          "API\". Only development and test may run without authentication, and even then /health says "
          "so and the log warns at start-up. The CDK always deploys with APP_ENV=production."),
    ("h2", "Input limits"),
    ("p", "Uploads are limited to 50 MB and 2,000 pages, questions to 2,000 characters, top_k to 100 "
          "and metadata filters to five levels of nesting. Oversized bodies are refused with 413 before "
          "they are read into memory. Error responses never contain stack traces, and logs never contain "
          "document text or secret values."),
    ("h1", "TLS and network"),
    ("p", "API Gateway only accepts HTTPS. The S3 buckets and SQS queues deny any request that does not "
          "use TLS, and the connection to ElastiCache is encrypted in transit and protected by an AUTH "
          "token. ChromaDB runs in private subnets without a public address, reachable only from the "
          "functions' security group, behind a proxy that checks the CHROMA_AUTH_TOKEN bearer token "
          "(ChromaDB itself has no authentication). When you run knowledgebeast serve outside a laptop, "
          "put it behind a reverse proxy that terminates TLS, and set ALLOWED_HOSTS and CORS_ORIGINS "
          "to your real host names and origins."),
    ("h1", "Secrets in AWS Secrets Manager"),
    ("p", "The CDK generates four secrets: ApiKeys, JwtSecret, ChromaAuthToken and RedisAuthToken. The "
          "functions receive only their ARNs and read the values at start-up, and IAM lets each function "
          "read only the secrets it needs. Secret values never appear in environment variables, CDK "
          "output, CloudFormation templates or app.yaml. The secrets are retained by cdk destroy. To "
          "change a value, write the new one with aws secretsmanager put-secret-value and redeploy, so "
          "that every function starts with it."),
    ("p", "Documents and backups are encrypted at rest with a customer-managed KMS key that rotates "
          "yearly; both buckets are versioned, block public access and write access logs."),
    ("h1", "Checklist before going live"),
    ("li", "APP_ENV is production and /health does not say that authentication is disabled."),
    ("li", "Each client has its own API key or JWT, restricted to its collections and scopes."),
    ("li", "CORS_ORIGINS lists only your front-end origins."),
    ("li", "Alarm e-mails reach someone who has read the operations runbook."),
    ("li", "A restore from backup has been practised."),
]


def build_pdf() -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_title(RUNBOOK_TITLE)
    pdf.set_author(AUTHOR)
    pdf.set_subject("Health endpoints, alerts, backups and restore")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    width = pdf.epw
    styles = {"h1": ("B", 18, 4), "h2": ("B", 13, 3), "p": ("", 11, 2), "li": ("", 11, 1)}
    previous = ""
    for kind, text in RUNBOOK:
        text.encode("latin-1")  # core fonts only: fail loudly on anything else
        style, size, gap = styles[kind]
        pdf.set_font("Helvetica", style, size)
        if kind in ("h1", "h2"):
            if pdf.get_y() > pdf.page_break_trigger - 30:
                pdf.add_page()  # keep a heading with the first lines of its section
            else:
                pdf.ln(3)
        if kind == "li":
            pdf.set_x(pdf.l_margin + 5)
            bullet = "" if text[:1].isdigit() else "- "
            pdf.multi_cell(width - 5, 5.5, bullet + text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            if kind == "p" and previous == "li":
                pdf.ln(2)
            pdf.multi_cell(width, size * 0.55, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)
        previous = kind
    return bytes(pdf.output())


def build_docx() -> bytes:
    from docx import Document
    from docx.shared import Pt

    document = Document()
    props = document.core_properties
    props.title = SECURITY_TITLE
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.subject = "Authentication, authorization, rate limits, TLS and secrets"
    props.created = props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    document.styles["Normal"].font.size = Pt(11)
    for kind, content in SECURITY:
        if kind == "h1":
            document.add_heading(str(content), level=1)
        elif kind == "h2":
            document.add_heading(str(content), level=2)
        elif kind == "p":
            document.add_paragraph(str(content))
        elif kind == "li":
            document.add_paragraph(str(content), style="List Bullet")
        elif kind == "table":
            rows = list(content)  # type: ignore[call-overload]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for row, values in zip(table.rows, rows, strict=True):
                for cell, value in zip(row.cells, values, strict=True):
                    cell.text = value
            for cell in table.rows[0].cells:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    buffer = io.BytesIO()
    document.save(buffer)
    return _normalise_zip(buffer.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Same entries, fixed timestamps: rerunning the script yields identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="target folder (default: examples/docs)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in (("operations-runbook.pdf", build_pdf()), ("security-guide.docx", build_docx())):
        path = args.out / name
        path.write_bytes(data)
        print(f"{path} {len(data):,} bytes")


if __name__ == "__main__":
    main()
