"""Query Lambda: the FastAPI app (same as the local server) behind API Gateway or a Function URL.

Everything is built at import, once per container (or once per published version with SnapStart,
see knowledgebeast.aws.snapstart): settings, the app, the model and the store and cache clients
(``lifespan="off"``: with "auto" Mangum would run the lifespan on every invocation).
Works with HTTP API payload 2.0, REST API / payload 1.0 and Function URL events, base64 bodies and
named stages (``strip_stage``: Mangum alone routes ``/prod/api/v1/query`` to a 404). A custom domain
API mapping key (``/kb/api/v1/query``) is static: set ``API_GATEWAY_BASE_PATH=/kb``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from knowledgebeast.api.app import create_app
from knowledgebeast.aws.http_events import for_asgi
from knowledgebeast.aws.runtime import lambda_logger, traced, warm
from knowledgebeast.aws.snapstart import prime, register_restore_hooks
from knowledgebeast.config import get_settings
from knowledgebeast.observability.emf import flush_metrics_after

settings = get_settings()
logger = lambda_logger("knowledgebeast-query", settings.log_level)
app = create_app(settings)
warm(app.state.services, "query_service")
asgi = Mangum(app, lifespan="off", api_gateway_base_path=settings.api_gateway_base_path)
prime(app, asgi)  # first model run, stemmer, one request: in init (and in the SnapStart snapshot)
register_restore_hooks(app)  # SnapStart: fresh connections, secrets and randomness after each restore


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@flush_metrics_after
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One HTTP request; the correlation id is API Gateway's ``requestContext.requestId``."""
    return asgi(for_asgi(event), context)  # type: ignore[arg-type]  # same object, Mangum's stricter Protocol


handler = traced(handler, service="knowledgebeast-query", enabled=settings.powertools_tracer_enabled)
