"""GET /v1/models and GET /v1/models/{model_id}, paginated like the real API."""

from aiohttp import web

from mockclaude import models
from mockclaude.server.common import STATE, api_key, dumps, require_version
from mockclaude.wire.errors import ApiError


def _json(obj: object) -> web.Response:
    return web.Response(body=dumps(obj), content_type="application/json")


async def list_models(request: web.Request) -> web.Response:
    """A page of the catalogue, newest first."""
    api_key(request)
    require_version(request)
    q = request.query
    limit_s = q.get("limit")
    try:
        limit = int(limit_s) if limit_s is not None else None
    except ValueError:
        raise ApiError(
            400, f"limit: Input should be a valid integer, unable to parse string as an integer: {limit_s!r}"
        ) from None
    return _json(models.list_models(limit, q.get("after_id"), q.get("before_id")))


async def get_model(request: web.Request) -> web.Response:
    """One model by id or alias."""
    api_key(request)
    require_version(request)
    name = request.match_info["model_id"]
    options = request.app[STATE].options
    info = models.resolve_or_generic(name) if options.any_model else models.resolve(name)
    if info is None:
        raise models.unknown_model(name)
    return _json(models.model_json(info))
