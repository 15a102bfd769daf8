"""The "LLM metrics" tab in Locust's web UI, fed by the live view (replay.live).

Locust 2.47's UI shows extra tabs declared in `web_ui.template_args` (`extended_tabs`,
`extended_tables`) and fills them from an `extended_stats` list in its `/stats/requests` answer,
which it polls every couple of seconds: the tab updates live, like Locust's own.
"""

import json
from collections.abc import Callable
from typing import Any

from flask import Response, request
from locust.env import Environment

from replay.live import COLUMNS

TAB_KEY = "llm"
TAB_TITLE = "LLM metrics"
STATS_PATH = "/stats/requests"


def install(environment: Environment, rows: Callable[[], list[dict[str, Any]]]) -> None:
    """Add the tab to `environment.web_ui` (a no-op without a web UI); `rows` gives its table."""
    web_ui = environment.web_ui
    if web_ui is None:
        return
    web_ui.template_args["extended_tabs"] = [{"title": TAB_TITLE, "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": key, "title": title} for key, title in COLUMNS]}
    ]

    @web_ui.app.after_request
    def _add_llm_stats(response: Response) -> Response:
        if request.path != STATS_PATH or response.status_code != 200 or not response.is_json:
            return response
        body = response.get_json()
        body["extended_stats"] = [{"key": TAB_KEY, "data": rows()}]
        response.set_data(json.dumps(body))
        return response
