"""Resolution: deterministic and probabilistic links, constraints, stable ids, order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanzi.ingest.linker import link_records
from quanzi.ingest.records import normalise_contact
from quanzi.ingest.resolve import (
    ExistingCustomer,
    customer_id_for,
    deterministic_links,
    names_compatible,
    resolve,
)
from quanzi.settings import Settings

ROWS: list[dict[str, Any]] = [
    # one person across three channels, in simplified, traditional and pinyin
    {
        "source": "crm",
        "source_record_id": "1",
        "full_name": "张伟",
        "phone": "13800138000",
        "birth_date": "1990-01-02",
        "created_at": "2023-01-01T00:00:00Z",
    },
    {
        "source": "wechat",
        "source_record_id": "2",
        "full_name": "張偉",
        "phone": "+86 138 0013 8000",
        "wechat_unionid": "u-zw",
        "created_at": "2023-02-01T00:00:00Z",
    },
    {
        "source": "shop",
        "source_record_id": "3",
        "full_name": "Zhang Wei",
        "email": "zw@qq.com",
        "birth_date": "19900102",
        "created_at": "2023-03-01T00:00:00Z",
    },
    # the same unionid in another app
    {
        "source": "wechat",
        "source_record_id": "4",
        "full_name": "张伟",
        "wechat_unionid": "u-zw",
        "wechat_openid": "o-2",
    },
    # a family member on the same phone: never the same person
    {"source": "shop", "source_record_id": "5", "full_name": "李娜", "phone": "0086-138-0013-8000"},
    # only a name and a phone, in two channels
    {"source": "phone", "source_record_id": "6", "full_name": "陈丽华", "phone": "139 0000 1111"},
    {"source": "web", "source_record_id": "7", "full_name": "陳麗華", "phone": "(139) 0000-1111"},
]


def _profiles(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        profile, problems = normalise_contact(row)
        assert profile is not None, problems
        out.append(profile)
    return out


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("model"))
    profiles = _profiles(ROWS)
    links, _ = link_records(profiles, [], settings)
    return resolve(profiles, links).assignment


def test_one_person_across_channels_scripts_and_phone_forms(resolved: dict[str, str]) -> None:
    assert resolved["crm:1"] == resolved["wechat:2"] == resolved["shop:3"] == resolved["wechat:4"]


def test_family_phone_does_not_merge_two_people(resolved: dict[str, str]) -> None:
    assert resolved["shop:5"] != resolved["crm:1"]


def test_name_and_phone_only_records_link(resolved: dict[str, str]) -> None:
    assert resolved["phone:6"] == resolved["web:7"]


def test_customer_id_comes_from_the_oldest_record(resolved: dict[str, str]) -> None:
    assert resolved["crm:1"] == customer_id_for("crm:1")


def test_deterministic_rules_carry_their_evidence() -> None:
    profiles = _profiles(ROWS[:4])
    links = {(lk.left, lk.right): lk for lk in deterministic_links(profiles)}
    assert links[("wechat:2", "wechat:4")].rule == "same wechat_unionid"
    assert links[("crm:1", "wechat:2")].agreed == ("phone", "name_norm")


def test_two_unionids_never_share_a_customer() -> None:
    profiles = _profiles(
        [
            {
                "source": "a",
                "source_record_id": "1",
                "full_name": "王芳",
                "wechat_unionid": "u1",
                "phone": "13800000001",
            },
            {
                "source": "b",
                "source_record_id": "2",
                "full_name": "王芳",
                "wechat_unionid": "u2",
                "phone": "13800000001",
            },
        ]
    )
    result = resolve(profiles, deterministic_links(profiles))
    assert result.assignment["a:1"] != result.assignment["b:2"]
    assert result.links_refused


def test_existing_customers_keep_their_ids_and_the_older_survives_a_merge() -> None:
    old, young, bridge = _profiles(
        [
            {"source": "a", "source_record_id": "1", "full_name": "王芳", "phone": "13800000001"},
            {"source": "b", "source_record_id": "2", "full_name": "王芳", "email": "wf@163.com"},
            {
                "source": "c",
                "source_record_id": "3",
                "full_name": "王芳",
                "phone": "13800000001",
                "email": "wf@163.com",
            },
        ]
    )
    existing = [old | {"customer_id": "cus_old"}, young | {"customer_id": "cus_young"}]
    customers = {
        "cus_old": ExistingCustomer("cus_old", "2020-01-01T00:00:00Z"),
        "cus_young": ExistingCustomer("cus_young", "2024-01-01T00:00:00Z"),
    }
    links = deterministic_links([bridge], existing=existing)
    result = resolve([bridge], links, existing=existing, customers=customers)
    assert result.assignment["c:3"] == "cus_old"
    assert result.merged == {"cus_young": "cus_old"}
    assert result.new_customers == set()


def test_a_split_is_respected() -> None:
    a, b = _profiles(
        [
            {"source": "a", "source_record_id": "1", "full_name": "王芳", "phone": "13800000001"},
            {"source": "b", "source_record_id": "2", "full_name": "王芳", "phone": "13800000001"},
        ]
    )
    existing = [a | {"customer_id": "cus_a"}, b | {"customer_id": "cus_b"}]
    customers = {"cus_a": ExistingCustomer("cus_a", split_from=frozenset({"cus_b"}))}
    result = resolve(
        [], deterministic_links([], existing=existing), existing=existing, customers=customers
    )
    assert result.merged == {}


def test_names_compatible() -> None:
    assert names_compatible(("张伟", "wei zhang"), ("張偉", "wei zhang"))
    assert names_compatible(("李天荣", "li tianrong"), ("李一荣", "li yirong"))
    assert not names_compatible(("韦一一", "wei yiyi"), ("韦杰睿", "jierui wei"))


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(st.text("王大伟李明", min_size=1, max_size=3), st.text("wang dwei lm", max_size=12)),
    st.tuples(st.text("王大伟李明", min_size=1, max_size=3), st.text("wang dwei lm", max_size=12)),
)
def test_names_compatible_does_not_depend_on_argument_order(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    # Clustering asks in whichever order its union-find roots come: the answer must be the
    # same both ways (``wang dawei`` / ``wang wang`` matched one way only before).
    assert names_compatible(a, b) == names_compatible(b, a)


def test_names_of_as_many_tokens_match_both_ways() -> None:
    one, other = ("王大伟", "wang dawei"), ("王王王", "wang wang")
    assert not names_compatible(one, other)
    assert not names_compatible(other, one)  # "wang" is close to a token of "wang dawei"
    assert names_compatible(("张伟", "zhang wei"), ("张为", "zhang wie"))
    assert names_compatible(("张大伟", "zhang dawei"), ("张伟", "zhang"))  # a missing token


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(len(ROWS)))))
def test_resolution_does_not_depend_on_input_order(order: list[int]) -> None:
    profiles = _profiles(ROWS)
    shuffled = [profiles[i] for i in order]
    a = resolve(profiles, deterministic_links(profiles)).assignment
    b = resolve(shuffled, deterministic_links(shuffled)).assignment
    assert a == b


def test_probabilistic_links_have_weights_and_agreeing_fields(tmp_path: Path) -> None:
    profiles = _profiles(ROWS)
    links, counts = link_records(profiles, [], Settings(data_dir=tmp_path))
    found = [lk for lk in links if lk.rule == "probabilistic"]
    assert counts["links_probabilistic"] == len(found) > 0
    assert all(lk.match_weight is not None and 0 < lk.match_probability <= 1 for lk in found)
    assert all(lk.agreed for lk in found)


def test_a_name_alone_joins_nothing_a_phone_held_by_two_clusters_does() -> None:
    wechat = {"source": "wechat", "full_name": "孟磊林", "wechat_unionid": "u9", "gender": "男"}
    shop = {"source": "shop", "full_name": "孟磊林", "phone": "13912345678", "gender": "m"}
    # Nothing but a name in common, however rare: two people to any system.
    by_name = _profiles([wechat | {"source_record_id": "1"}, shop | {"source_record_id": "2"}])
    assert len(set(resolve(by_name, []).assignment.values())) == 2
    # The only two holders of a phone, names in two scripts: one person.
    web = {"source": "web", "full_name": "Meng Leilin", "phone": "139 1234 5678"}
    pair = _profiles([shop | {"source_record_id": "2"}, web | {"source_record_id": "3"}])
    resolution = resolve(pair, [])
    assert len(set(resolution.assignment.values())) == 1
    assert [lk.rule for lk in resolution.links_used] == ["unique phone"]
    # A phone three clusters hold (a household's) joins none of them.
    nameless = {"source": "email", "email": "ml@qq.com", "phone": "13912345678"}
    three = _profiles(
        [
            shop | {"source_record_id": "2"},
            web | {"source_record_id": "3"},
            nameless | {"source_record_id": "4"},
        ]
    )
    assert len(set(resolve(three, []).assignment.values())) == 3
    # Two holders that disagree on what both know (here the birth date) stay apart.
    apart = _profiles(
        [
            shop | {"source_record_id": "2", "birth_date": "1990-01-01"},
            web | {"source_record_id": "3", "birth_date": "1985-05-05"},
        ]
    )
    assert len(set(resolve(apart, []).assignment.values())) == 2


def test_a_mailbox_made_of_the_name_is_no_evidence_a_handle_with_digits_is(
    tmp_path: Path,
) -> None:
    rows = [
        {
            "source": "crm",
            "source_record_id": "1",
            "full_name": "姚英",
            "email": "ying.yao@126.com",
        },
        {
            "source": "shop",
            "source_record_id": "2",
            "full_name": "姚英",
            "email": "ying.yao@163.com",
        },
        {
            "source": "crm",
            "source_record_id": "3",
            "full_name": "方嘉博",
            "email": "2089833788@qq.com",
        },
        {
            "source": "shop",
            "source_record_id": "4",
            "full_name": "方嘉博",
            "email": "2089833788@foxmail.com",
        },
    ]
    links, _ = link_records(_profiles(rows), [], Settings(data_dir=tmp_path))
    pairs = {frozenset((lk.left, lk.right)) for lk in links}
    assert frozenset(("crm:3", "shop:4")) in pairs
    assert frozenset(("crm:1", "shop:2")) not in pairs
