"""GET /v1/models and GET /v1/models/{model_id}, paginated like the real API."""

from aiohttp import web

from mockclaude import models
from mockclaude.server.common import STATE, api_key, require_version
from mockclaude.wire.messages import dumps


def _json(obj: object) -> web.Response:
    return web.Response(body=dumps(obj), content_type="application/json")


async def list_models(request: web.Request) -> web.Response:
    """A page of the catalogue, newest first."""
    api_key(request)
    require_version(request)
    q = request.query
    lifecycle = q.getall("lifecycle[]", None) or q.getall("lifecycle", None)
    return _json(models.list_models(q.get("limit"), q.get("after_id"), q.get("before_id"), lifecycle))


async def get_model(request: web.Request) -> web.Response:
    """One model by id or alias."""
    api_key(request)
    require_version(request)
    name = request.match_info["model_id"]
    return _json(models.model_json(models.lookup(name, any_model=request.app[STATE].options.any_model)))
