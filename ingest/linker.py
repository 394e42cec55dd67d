"""Record linkage: deterministic rules on strong keys, then Splink (DuckDB) on the rest.

The probabilistic model is a Fellegi–Sunter model declared as data (:func:`splink_settings`):
blocking rules that say which pairs are compared, and comparisons whose levels say how well
each field agrees. Its parameters are estimated from the data being linked (``u`` by random
sampling, ``m`` by expectation maximisation in several blocking sessions, the prior from
deterministic rules); a model trained on a large batch is saved and reused for later small
batches, which are too small to train on. Every pair at or above
``settings.link_threshold`` becomes a :class:`~quanzi.ingest.resolve.Link` with its match
weight, match probability and the fields that agreed.

Only pairs with at least one *new* record are scored, so an incremental batch is compared
with the existing records it shares a blocking key with, never the existing records among
themselves.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quanzi.ingest.normalise import city_key, has_cjk, latin_name, split_chinese_name
from quanzi.ingest.report import IngestProgress
from quanzi.ingest.resolve import Link, deterministic_links, edit_distance
from quanzi.settings import Settings

__all__ = [
    "BLOCKING_KEYS",
    "COMPARED_FIELDS",
    "default_model",
    "link_records",
    "linker_frame",
    "probabilistic_links",
    "splink_settings",
]

_log = logging.getLogger(__name__)

#: Columns of the table the linker compares, derived from profiles by :func:`linker_frame`.
COMPARED_FIELDS = (
    "unique_id",
    "is_new",
    "name_norm",
    "name_cjk",
    "name_latin",
    "given_l",
    "surname_l",
    "phone",
    "email",
    "email_user",
    "birth_date",
    "id_number",
    "postcode",
    "city_l",
    "street",
    "gender",
    "wechat_unionid",
)

#: Blocking keys: pairs are compared only when they agree on every field of one key.
BLOCKING_KEYS: tuple[tuple[str, ...], ...] = (
    ("phone",),
    ("email",),
    ("email_user",),
    ("id_number",),
    ("name_latin", "birth_date"),
    ("name_latin", "city_l"),
    ("surname_l", "birth_date"),
    ("given_l", "birth_date"),
    ("surname_l", "postcode"),
    ("given_l", "postcode"),
    ("street", "postcode"),
    ("street", "city_l"),
    ("birth_date", "postcode"),
    ("birth_date", "city_l"),
)

#: Blocking keys used to estimate ``m`` by expectation maximisation, one session each: every
#: comparison is estimated in a session that does not block on its own fields.
_EM_KEYS: tuple[tuple[str, ...], ...] = (
    ("phone",),
    ("email",),
    ("id_number",),
    ("name_latin",),
    ("birth_date",),
)
_MIN_EM_PAIRS = 50

#: Rules taken as near-certain matches when estimating how many pairs match at all.
_PRIOR_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("l.phone = r.phone AND l.name_latin = r.name_latin", ("phone", "name_latin")),
    ("l.email = r.email AND l.name_latin = r.name_latin", ("email", "name_latin")),
    ("l.id_number = r.id_number", ("id_number",)),
    ("l.wechat_unionid = r.wechat_unionid", ("wechat_unionid",)),
    ("l.name_latin = r.name_latin AND l.birth_date = r.birth_date", ("name_latin", "birth_date")),
)
#: Most records used to train the model; larger batches train on a random sample.
_TRAIN_SAMPLE = 100_000

_MODEL_FILE = "linker-model.json"

#: Parameters of the model trained on 20,000 synthetic people (generator seed 101), used for
#: batches too small to train on when no model was saved yet: ``comparison -> level ->
#: (m, u)``, and the prior.
_DEFAULT_PARAMETERS: dict[str, Any] = {
    "probability_two_random_records_match": 2.32674e-05,
    "name": {
        "same name": (0.632534, 3.62781e-05),
        "same sound, other characters": (0.00166444, 6.04635e-06),
        "same name in Latin letters": (0.273237, 1.97881e-05),
        "one character off": (0.0554737, 0.00121916),
        "surname and given name nearly equal": (0.00155071, 2.52848e-05),
        "name nearly equal": (0.0118924, 0.000428192),
        "else": (0.0213945, 0.998265),
    },
    "birth_date": {
        "same date": (0.982325, 0.000158966),
        "one digit off": (8.09946e-36, 0.00194291),
        "two digits off": (1.1036e-17, 0.0241628),
        "else": (0.0198115, 0.973735),
    },
    "phone": {
        "same phone": (0.999146, 4.7083e-05),
        "one digit off": (None, None),
        "else": (0.00157979, 0.999953),
    },
    "email": {
        "same e-mail": (0.941702, 4.08905e-05),
        "same mailbox handle": (0.0552466, 4.08905e-05),  # u: as for a whole address
        "similar mailbox handle": (0.0547468, 0.000602206),
        "else": (0.00185072, 0.999357),
    },
    "id_number": {
        "same id number": (0.999997, None),
        "id number nearly equal": (1.29851e-27, None),
        "else": (5.55456e-06, 1.0),
    },
    "postcode": {
        "same postcode": (1.0, 7.19282e-05),
        "one character off": (0.00195668, 0.00163637),
        "else": (0.00142197, 0.998292),
    },
    "city": {
        "same city": (0.839653, 0.0499901),
        "similar city": (0.0167474, 0.00161895),
        "else": (0.142469, 0.948391),
    },
    "street": {
        "same street address": (0.469231, 1.95354e-05),
        "similar street address": (0.138108, 0.00224658),
        "else": (0.392662, 0.997734),
    },
    "gender": {
        "same gender": (0.99999, 0.51279),
        "else": (0.0024611, 0.48721),
    },
    "wechat_unionid": {
        "same WeChat unionid": (0.906075, 2.18937e-05),
        "else": (0.0939246, 0.999978),
    },
}

#: A SQL function counting edits in characters: DuckDB's own edit distances count UTF-8
#: bytes, so one Chinese character would count as three.
_CHAR_EDITS = "quanzi_char_edits"


def _char_edits(a: str, b: str) -> int:
    return edit_distance(a, b, 2)


def _level(sql: str, label: str, *, null: bool = False, tf: str | None = None) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    if tf is not None:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


def _null(*cols: str) -> dict[str, Any]:
    sql = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)
    return _level(sql, "null", null=True)


_ELSE = _level("ELSE", "else")

#: Whether the left mailbox name holds digits (a personal handle rather than a name).
_HANDLE = "regexp_matches(email_user_l, '[0-9]{2,}')"


def _fixed(level: dict[str, Any]) -> dict[str, Any]:
    """A level that counts neither for nor against a match (Bayes factor 1, not trained)."""
    return level | {
        "m_probability": 0.01,
        "u_probability": 0.01,
        "fix_m_probability": True,
        "fix_u_probability": True,
    }


def _comparison(name: str, *levels: dict[str, Any]) -> dict[str, Any]:
    return {"output_column_name": name, "comparison_levels": [*levels, _ELSE]}


def _comparisons() -> list[dict[str, Any]]:
    jw = "jaro_winkler_similarity"
    dl = "damerau_levenshtein"
    return [
        _comparison(
            "name",
            _null("name_latin"),
            _level("name_norm_l = name_norm_r", "same name", tf="name_norm"),
            _level(
                "name_latin_l = name_latin_r AND name_cjk_l AND name_cjk_r",
                "same sound, other characters",
            ),
            _level("name_latin_l = name_latin_r", "same name in Latin letters", tf="name_latin"),
            _level(
                # Cheap tests first, so the character count runs on few pairs.
                "name_cjk_l AND name_cjk_r AND abs(length(name_norm_l) - length(name_norm_r)) <= 1 "
                "AND (left(name_norm_l, 1) = left(name_norm_r, 1) "
                "OR right(name_norm_l, 1) = right(name_norm_r, 1)) "
                f"AND {_CHAR_EDITS}(name_norm_l, name_norm_r) <= 1",
                "one character off",
            ),
            _level(
                f"{jw}(surname_l_l, surname_l_r) >= 0.92 AND {jw}(given_l_l, given_l_r) >= 0.92",
                "surname and given name nearly equal",
            ),
            _level(f"{jw}(name_latin_l, name_latin_r) >= 0.92", "name nearly equal"),
        ),
        _comparison(
            "birth_date",
            _null("birth_date"),
            _level("birth_date_l = birth_date_r", "same date"),
            _level(f"{dl}(birth_date_l, birth_date_r) <= 1", "one digit off"),
            _level(f"{dl}(birth_date_l, birth_date_r) <= 2", "two digits off"),
        ),
        _comparison(
            "phone",
            _null("phone"),
            _level("phone_l = phone_r", "same phone", tf="phone"),
            _level(f"{dl}(phone_l, phone_r) <= 1", "one digit off"),
        ),
        _comparison(
            "email",
            _null("email"),
            _level("email_l = email_r", "same e-mail", tf="email"),
            # A mailbox name with digits is a personal handle (2089833788@qq.com,
            # andersonpeter96@...); one made of letters is mostly the person's name
            # (ying.yao@126.com / ying.yao@163.com), which the name comparison counts already,
            # and is shared by everyone with that name: neither for nor against a match.
            _level(f"email_user_l = email_user_r AND {_HANDLE}", "same mailbox handle"),
            _level(
                f"{jw}(email_user_l, email_user_r) >= 0.88 AND {_HANDLE}", "similar mailbox handle"
            ),
            _fixed(_level(f"{jw}(email_user_l, email_user_r) >= 0.88", "mailbox made of the name")),
        ),
        _comparison(
            "id_number",
            _null("id_number"),
            _level("id_number_l = id_number_r", "same id number"),
            _level(f"{dl}(id_number_l, id_number_r) <= 2", "id number nearly equal"),
        ),
        _comparison(
            "postcode",
            _null("postcode"),
            _level("postcode_l = postcode_r", "same postcode", tf="postcode"),
            _level(f"{dl}(postcode_l, postcode_r) <= 1", "one character off"),
        ),
        _comparison(
            "city",
            _null("city_l"),
            _level("city_l_l = city_l_r", "same city", tf="city_l"),
            _level(f"{jw}(city_l_l, city_l_r) >= 0.9", "similar city"),
        ),
        _comparison(
            "street",
            _null("street"),
            _level("street_l = street_r", "same street address"),
            _level(f"{jw}(street_l, street_r) >= 0.9", "similar street address"),
        ),
        _comparison(
            "gender",
            _null("gender"),
            _level("gender_l = gender_r", "same gender"),
        ),
        _comparison(
            "wechat_unionid",
            _null("wechat_unionid"),
            _level("wechat_unionid_l = wechat_unionid_r", "same WeChat unionid"),
        ),
    ]


def _blocking_rule(key: Sequence[str], *, incremental: bool) -> dict[str, str]:
    sql = " AND ".join(f"l.{c} = r.{c}" for c in key)
    if incremental:
        sql += " AND (l.is_new OR r.is_new)"
    return {"blocking_rule": sql, "sql_dialect": "duckdb"}


def splink_settings(*, incremental: bool = False) -> dict[str, Any]:
    """The Splink model as data: blocking rules and comparisons (untrained).

    Parameters
    ----------
    incremental : bool
        Score only pairs with at least one new record (``is_new``).

    Examples
    --------
    >>> s = splink_settings()
    >>> s["link_type"], [c["output_column_name"] for c in s["comparisons"]][:3]
    ('dedupe_only', ['name', 'birth_date', 'phone'])
    """
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "blocking_rules_to_generate_predictions": [
            _blocking_rule(k, incremental=incremental) for k in BLOCKING_KEYS
        ],
        "comparisons": _comparisons(),
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": False,
    }


def _given_surname(profile: Mapping[str, Any]) -> tuple[str | None, str | None]:
    given, surname = profile.get("given_name"), profile.get("surname")
    if given or surname:
        return (
            latin_name(str(given)) if given else None,
            latin_name(str(surname)) if surname else None,
        )
    name = profile.get("name_norm")
    if name and has_cjk(str(name)) and " " not in str(name):
        s, g = split_chinese_name(str(name))
        return (latin_name(g) if g else None, latin_name(s))
    return None, None


def linker_frame(
    records: Sequence[Mapping[str, Any]], existing: Sequence[Mapping[str, Any]] = ()
) -> Any:
    """The table the linker compares (a pandas DataFrame), one row per profile.

    Examples
    --------
    >>> frame = linker_frame([{"record_id": "a:1", "name_norm": "王芳", "name_latin": "fang wang",
    ...                        "city": "深圳市", "email": "f.wang@qq.com"}])
    >>> frame.loc[0, ["surname_l", "given_l", "city_l", "email_user"]].tolist()
    ['wang', 'fang', 'shenzhen', 'f.wang']
    """
    import pandas as pd

    # Built column by column: a DataFrame from lists is several times cheaper than from dicts.
    profiles = [*existing, *records]
    columns: dict[str, list[Any]] = {f: [p.get(f) for p in profiles] for f in _COPIED_FIELDS}
    columns["unique_id"] = [str(p["record_id"]) for p in profiles]
    columns["is_new"] = [False] * len(existing) + [True] * len(records)
    columns["name_cjk"] = [bool(n) and has_cjk(str(n)) for n in columns["name_norm"]]
    given_surname = [_given_surname(p) for p in profiles]
    columns["given_l"] = [g for g, _ in given_surname]
    columns["surname_l"] = [s for _, s in given_surname]
    columns["email_user"] = [str(e).split("@", 1)[0] if e else None for e in columns["email"]]
    columns["city_l"] = [city_key(str(c)) if c else None for c in (p.get("city") for p in profiles)]
    frame = pd.DataFrame({f: columns[f] for f in COMPARED_FIELDS})
    return frame.astype({c: "string" for c in COMPARED_FIELDS if c not in ("is_new", "name_cjk")})


#: Compared fields taken from the profile as they are.
_COPIED_FIELDS = (
    "name_norm",
    "name_latin",
    "phone",
    "email",
    "birth_date",
    "id_number",
    "postcode",
    "street",
    "gender",
    "wechat_unionid",
)


def _pair_count(frame: Any, key: Sequence[str]) -> int:
    """How many pairs blocking on ``key`` produces (to skip sessions with none)."""
    sizes = frame.dropna(subset=list(key)).groupby(list(key)).size()
    return int((sizes * (sizes - 1) // 2).sum())


def _drop_term_frequencies(model: dict[str, Any]) -> None:
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("tf_adjustment_column", None)
            level.pop("tf_adjustment_weight", None)


def default_model() -> dict[str, Any]:
    """The model with the built-in parameters (see ``_DEFAULT_PARAMETERS``), as data.

    >>> model = default_model()
    >>> model["comparisons"][0]["comparison_levels"][1]["m_probability"] > 0.5
    True
    """
    model = splink_settings()
    model["probability_two_random_records_match"] = _DEFAULT_PARAMETERS[
        "probability_two_random_records_match"
    ]
    for comparison in model["comparisons"]:
        levels = _DEFAULT_PARAMETERS.get(comparison["output_column_name"], {})
        for level in comparison["comparison_levels"]:
            m, u = levels.get(level["label_for_charts"], (None, None))
            if m is not None:
                level["m_probability"] = m
            if u is not None:
                level["u_probability"] = u
    return model


def _trained_model(db: Any, frame: Any) -> dict[str, Any]:
    """Train the model on ``frame`` (or a random sample of it) and return it as data.

    A session that fails (too few pairs, or a level whose ``m`` goes to zero) is undone by
    rebuilding the model from the state before it, since a failed Splink session can leave
    its blocked comparisons out of the model.
    """
    from splink import Linker, block_on

    sample = frame if len(frame) <= _TRAIN_SAMPLE else frame.sample(n=_TRAIN_SAMPLE, random_state=1)
    table = db.register(sample, dataset_display_name="training")
    linker = Linker(table, splink_settings(), log_level=logging.ERROR)
    prior_rules: list[Any] = [
        {"blocking_rule": r, "sql_dialect": "duckdb"}
        for r, key in _PRIOR_RULES
        if _pair_count(sample, key) > 0
    ]
    if prior_rules:
        linker.training.estimate_probability_two_random_records_match(prior_rules, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=min(1e6, len(sample) * 30.0), seed=1)
    model: dict[str, Any] = linker.misc.save_model_to_json()
    prior = model["probability_two_random_records_match"]
    for key in _EM_KEYS:
        if _pair_count(sample, key) < _MIN_EM_PAIRS:
            continue
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*key), estimate_without_term_frequencies=True
            )
            model = linker.misc.save_model_to_json()
        except Exception as e:
            _log.info("EM session on %s skipped: %s", key, e)
            linker = Linker(table, model, log_level=logging.ERROR)
    model["probability_two_random_records_match"] = prior
    _handle_u_from_address(model)
    return model


def _handle_u_from_address(model: dict[str, Any]) -> None:
    """Give the "same mailbox handle" level the ``u`` of the "same e-mail" level.

    Random sampling almost never meets two records with one handle at two providers, so its
    ``u`` stays unknown (and the level would count for nothing); a handle with digits is taken
    to be as rare as a whole address.
    """
    for comparison in model["comparisons"]:
        if comparison["output_column_name"] != "email":
            continue
        levels = {lv.get("label_for_charts"): lv for lv in comparison["comparison_levels"]}
        address, handle = levels.get("same e-mail"), levels.get("same mailbox handle")
        if (
            address
            and handle
            and handle.get("u_probability") is None
            and address.get("u_probability") is not None
        ):
            handle["u_probability"] = address["u_probability"]


def probabilistic_links(
    records: Sequence[Mapping[str, Any]],
    existing: Sequence[Mapping[str, Any]],
    settings: Settings,
    *,
    model_dir: Path | None = None,
) -> list[Link]:
    """Pairs that the Splink model scores at or above ``settings.link_threshold``.

    The model is trained on ``records`` and ``existing`` when they hold at least
    ``settings.link_train_min_records`` records (and saved to ``model_dir``), else read from
    ``model_dir``, else the built-in :func:`default_model` is used.
    """
    import duckdb
    from splink import DuckDBAPI, Linker

    frame = linker_frame(records, existing)
    if len(frame) < 2:
        return []
    incremental = bool(existing)
    con = duckdb.connect()
    splink_log = logging.getLogger("splink")
    level = splink_log.level
    splink_log.setLevel(logging.ERROR)
    try:
        con.execute("SET threads TO 2")
        con.create_function(_CHAR_EDITS, _char_edits, ["varchar", "varchar"], "integer")
        db = DuckDBAPI(connection=con)
        table = db.register(frame, dataset_display_name="records")
        model_path = (model_dir / _MODEL_FILE) if model_dir is not None else None
        trained = len(frame) >= settings.link_train_min_records
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not trained and model_path is not None and model_path.exists():
                model = json.loads(model_path.read_text(encoding="utf-8"))
            elif not trained:
                model = default_model()
            else:
                model = _trained_model(db, frame)
                if trained and model_path is not None:
                    model_path.parent.mkdir(parents=True, exist_ok=True)
                    model_path.write_text(json.dumps(model, indent=1), encoding="utf-8")
            if not trained:
                # Term frequencies of a small batch, or of a batch and the candidates that look
                # like it, say little about the population: compare without them.
                _drop_term_frequencies(model)
            model["blocking_rules_to_generate_predictions"] = splink_settings(
                incremental=incremental
            )["blocking_rules_to_generate_predictions"]
            linker = Linker(table, model, log_level=logging.ERROR)
            predictions = linker.inference.predict(
                threshold_match_probability=settings.link_threshold, warning_mode="never"
            )
            pairs = predictions.as_pandas_dataframe()  # type: ignore[no-untyped-call]
    finally:
        con.close()
        splink_log.setLevel(level)
    return _links_from_pairs(pairs)


def _links_from_pairs(pairs: Any) -> list[Link]:
    """Splink's scored pairs (a DataFrame) as links, column by column rather than row by row."""
    weight_columns = [c for c in pairs.columns if c.startswith("mw_") and "_tf_adj_" not in c]
    agrees = pairs[weight_columns].astype(float).to_numpy() > 0.0
    # Which fields agreed, as one number per pair: few distinct patterns, each made once.
    patterns = (agrees * (1 << np.arange(len(weight_columns)))).sum(axis=1).tolist()
    agreed_of: dict[int, tuple[str, ...]] = {}
    for pattern in set(patterns):
        agreed_of[pattern] = tuple(
            c[3:] for i, c in enumerate(weight_columns) if pattern & (1 << i)
        )
    return [
        Link(
            str(left),
            str(right),
            "probabilistic",
            match_weight=round(weight, 3),
            match_probability=round(probability, 6),
            agreed=agreed_of[pattern],
        )
        for left, right, weight, probability, pattern in zip(
            pairs["unique_id_l"].tolist(),
            pairs["unique_id_r"].tolist(),
            pairs["match_weight"].astype(float).tolist(),
            pairs["match_probability"].astype(float).tolist(),
            patterns,
            strict=True,
        )
    ]


def link_records(
    records: Sequence[Mapping[str, Any]],
    existing: Sequence[Mapping[str, Any]],
    settings: Settings,
    *,
    progress: IngestProgress | None = None,
) -> tuple[list[Link], Counter[str]]:
    """Candidate links among ``records`` and between them and ``existing`` records.

    Returns the links (deterministic ones first) and counts of each kind.
    """
    links = deterministic_links(records, existing=existing)
    if progress is not None:
        progress("link", 1, 2)
    found = probabilistic_links(records, existing, settings, model_dir=settings.data_dir / "ingest")
    if progress is not None:
        progress("link", 2, 2)
    return links + found, Counter(
        {"links_deterministic": len(links), "links_probabilistic": len(found)}
    )
