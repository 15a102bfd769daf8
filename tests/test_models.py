"""The model catalogue and GET /v1/models paging, checked against the real SDK's types."""

import re

import anthropic
import pytest
from anthropic.types import ModelInfo as SdkModelInfo
from anthropic.types.model_param import ModelParam

from mockclaude.models import (
    CATALOGUE,
    generic_model,
    list_models,
    model_json,
    require_usable,
    resolve,
    resolve_or_generic,
    unknown_model,
)
from mockclaude.processes import mock_server
from mockclaude.wire.errors import ApiError

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
LISTED = [m.id for m in CATALOGUE if m.lifecycle != "retired"]


def test_catalogue_is_newest_first_with_unique_names() -> None:
    dates = [m.created_at for m in CATALOGUE if m.lifecycle != "retired"]
    assert dates == sorted(dates, reverse=True)
    names = [n for m in CATALOGUE for n in (m.id, *m.aliases)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("info", CATALOGUE, ids=lambda m: m.id)
def test_every_entry_is_complete(info) -> None:
    assert RFC3339.fullmatch(info.created_at)
    for stamp in (info.deprecated_at, info.retires_at):
        assert stamp is None or RFC3339.fullmatch(stamp)
    assert info.lifecycle in ("active", "deprecated", "retired")
    assert (info.lifecycle == "active") == (info.deprecated_at is None)
    assert 0 < info.max_output_tokens <= info.max_input_tokens
    assert 0 < info.ttft_s < 10 and 0 < info.tps < 500
    assert info.source, "each entry cites where its figures come from"
    assert info.thinking_types and set(info.thinking_types) <= {
        "enabled",
        "adaptive",
        "disabled",
        "between_tools",
    }


def test_every_model_the_sdk_names_is_in_the_catalogue() -> None:
    sdk_ids = ModelParam.__args__[0].__args__  # the Literal[...] member of Union[Literal[...], str]
    missing = [name for name in sdk_ids if resolve(name) is None]
    assert missing == []


@pytest.mark.parametrize("info", CATALOGUE, ids=lambda m: m.id)
def test_model_json_parses_as_the_sdks_model_info(info) -> None:
    wire = model_json(info)
    parsed = SdkModelInfo.model_validate(wire)  # strict pydantic validation by the SDK's own type
    assert parsed.id == info.id and parsed.type == "model"
    assert parsed.max_tokens == info.max_output_tokens
    assert parsed.max_input_tokens == info.max_input_tokens
    assert parsed.lifecycle == info.lifecycle
    assert parsed.capabilities is not None
    assert parsed.capabilities.thinking.supported == info.supports_thinking


def test_fast_mode_speeds_up_output_only_where_offered() -> None:
    opus = resolve("claude-opus-4-8")
    haiku = resolve("claude-haiku-4-5")
    assert opus is not None and haiku is not None
    assert opus.output_tps("fast") == pytest.approx(opus.tps * 2.5)
    assert opus.output_tps("standard") == opus.output_tps(None) == opus.tps
    assert haiku.output_tps("fast") == haiku.tps


def test_newer_tokenizer_from_opus_4_7_on() -> None:
    factors = {m.id: m.tokenizer_factor for m in CATALOGUE}
    assert factors["claude-opus-4-7"] == factors["claude-haiku-5-5"] == factors["claude-sonnet-5"] == 1.3
    assert factors["claude-opus-4-6"] == factors["claude-haiku-4-5-20251001"] == 1.0


def test_resolve_by_id_and_alias() -> None:
    by_alias = resolve("claude-haiku-4-5")
    assert by_alias is not None and by_alias.id == "claude-haiku-4-5-20251001"
    assert resolve("claude-haiku-4-5-20251001") is by_alias
    assert resolve("claude-nonexistent-9") is None
    assert resolve("") is None


def test_unknown_and_retired_models_are_404_with_the_real_text() -> None:
    err = unknown_model("claude-3-5-sonnet-latest")
    assert (err.status, err.error_type, err.message) == (
        404,
        "not_found_error",
        "model: claude-3-5-sonnet-latest",
    )
    with pytest.raises(ApiError) as retired:
        require_usable("claude-3-opus-20240229", resolve("claude-3-opus-20240229"))
    assert retired.value.status == 404 and retired.value.message == "model: claude-3-opus-20240229"
    with pytest.raises(ApiError):
        require_usable("nope", None)
    active = resolve("claude-opus-4-8")
    assert require_usable("claude-opus-4-8", active) is active


def test_generic_model_for_any_model_flag() -> None:
    info = resolve_or_generic("my-fine-tune")
    assert info == generic_model("my-fine-tune")
    assert info.id == "my-fine-tune" and info.lifecycle == "active" and info.supports_thinking
    assert SdkModelInfo.model_validate(model_json(info)).created_at.year == 1970
    assert resolve_or_generic("claude-opus-4-8") is resolve("claude-opus-4-8")


def test_default_page_is_twenty_newest() -> None:
    page = list_models()
    assert [m["id"] for m in page["data"]] == LISTED[:20]
    assert page["first_id"] == LISTED[0] and page["last_id"] == LISTED[min(20, len(LISTED)) - 1]
    assert page["has_more"] is (len(LISTED) > 20)


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 1000])
def test_forward_walk_covers_the_list_once_in_order(limit: int) -> None:
    seen: list[str] = []
    after: str | None = None
    for _ in range(len(LISTED) + 2):
        page = list_models(limit=limit, after_id=after)
        seen += [m["id"] for m in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == LISTED


@pytest.mark.parametrize("limit", [1, 2, 5, 1000])
def test_backward_walk_covers_the_list_once_in_order(limit: int) -> None:
    pages: list[list[str]] = []
    before = LISTED[-1]
    tail = list_models(limit=1, after_id=LISTED[-2])
    assert [m["id"] for m in tail["data"]] == [before] and tail["has_more"] is False
    for _ in range(len(LISTED) + 2):
        page = list_models(limit=limit, before_id=before)
        pages.insert(0, [m["id"] for m in page["data"]])
        if not page["has_more"]:
            break
        before = page["first_id"]
    assert [i for p in pages for i in p] + [LISTED[-1]] == LISTED


def test_page_after_the_last_is_empty() -> None:
    page = list_models(after_id=LISTED[-1])
    assert page == {"data": [], "first_id": None, "last_id": None, "has_more": False}


def test_retired_models_only_when_asked() -> None:
    retired = list_models(limit=1000, lifecycle=["retired"])
    assert {m["lifecycle"] for m in retired["data"]} == {"retired"}
    assert "claude-3-opus-20240229" in [m["id"] for m in retired["data"]]
    everything = list_models(limit=1000, lifecycle=["active", "deprecated", "retired"])
    assert [m["id"] for m in everything["data"]] == [m.id for m in CATALOGUE]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"limit": 1001}, "limit: Input should be less than or equal to 1000"),
        ({"limit": "ten"}, "limit: Input should be a valid integer, unable to parse string as an integer"),
        (
            {"after_id": "claude-nope"},
            "after_id: invalid cursor 'claude-nope': no model with this id in the list",
        ),
        ({"before_id": "x"}, "before_id: invalid cursor 'x': no model with this id in the list"),
        ({"after_id": LISTED[0], "before_id": LISTED[1]}, "after_id and before_id cannot both be provided"),
        (
            {"lifecycle": ["gone"]},
            "lifecycle: Input should be 'active', 'deprecated' or 'retired' (got 'gone')",
        ),
    ],
)
def test_bad_paging_arguments_are_400(kwargs: dict, message: str) -> None:
    with pytest.raises(ApiError) as err:
        list_models(**kwargs)
    assert err.value.status == 400 and err.value.message == message


def test_limit_given_as_query_string_text() -> None:
    assert len(list_models(limit="2")["data"]) == 2


def test_sdk_pages_through_the_served_catalogue() -> None:
    with mock_server() as server:
        client = anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
        walked = [m.id for m in client.models.list(limit=3)]  # the SDK follows after_id by itself
        assert walked == LISTED
        assert client.models.retrieve("claude-haiku-4-5").id == "claude-haiku-4-5-20251001"
        with pytest.raises(anthropic.NotFoundError) as err:
            client.models.retrieve("claude-nope-9")
        assert err.value.body["error"]["message"] == "model: claude-nope-9"
