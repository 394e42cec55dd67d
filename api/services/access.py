"""Who is calling, what their role allows, and masking of personal identifiers.

Roles, from least to most: ``viewer`` (reads; personal identifiers masked), ``sales``
(reads and customer work; their own customers unmasked), ``admin`` (everything).
A sales key is bound to an employee; *own customers* are those actively ``SERVED_BY``
that employee.

Examples
--------
>>> mask_phone("+8613800138000")
'+86 138****8000'
>>> mask_email("zhang.wei@example.com")
'z***@example.com'
>>> Principal("k1", "sales", "Li").allows("viewer"), Principal("k1", "sales", "Li").allows("admin")
(True, False)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers

from quanzi.graph import queries as q
from quanzi.graph.store import GraphStore
from quanzi.settings import Role

__all__ = [
    "MASKED_FIELDS",
    "ROLE_RANK",
    "Principal",
    "Visibility",
    "mask_email",
    "mask_field",
    "mask_identity_id",
    "mask_phone",
    "mask_properties",
]

#: Order of the roles: a role allows everything the roles below it allow.
ROLE_RANK: dict[str, int] = {"viewer": 0, "sales": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    """The caller behind an API key.

    Attributes
    ----------
    key_id : str
        Public id of the key (never the key itself): ``env-…`` for keys from
        ``QUANZI_API_KEYS``, ``key_…`` for keys created through the API.
    role : str
        ``viewer``, ``sales`` or ``admin``.
    name : str
        Who or what holds the key.
    employee_id : str or None
        The employee a sales key acts for; their customers are shown unmasked.
    """

    key_id: str
    role: Role
    name: str
    employee_id: str | None = None

    def allows(self, role: Role) -> bool:
        """Whether this principal's role includes ``role``."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def actor(self) -> str:
        """What writes record as their author: the employee id, else the key id."""
        return self.employee_id or self.key_id


def mask_phone(value: str) -> str:
    """Keep the country code, the first three and the last four digits of a phone number.

    >>> mask_phone("+85291234567"), mask_phone("12345")
    ('+852 9123****', '1****')
    """
    try:
        number = phonenumbers.parse(value, None)
        national = str(number.national_number)
        prefix = f"+{number.country_code} "
    except phonenumbers.NumberParseException:
        national, prefix = "".join(ch for ch in value if ch.isdigit()), ""
    if len(national) >= 11:
        return f"{prefix}{national[:3]}****{national[-4:]}"
    if len(national) >= 8:
        return f"{prefix}{national[:4]}****"
    return f"{prefix}{national[:1]}****"


def mask_email(value: str) -> str:
    """Keep the first character of the mailbox and the domain.

    >>> mask_email("a@b.cn"), mask_email("no-at-sign")
    ('a***@b.cn', 'n***')
    """
    local, at, domain = value.partition("@")
    return f"{local[:1]}***{at}{domain}"


def _mask_token(value: str) -> str:
    return f"{value[:4]}****" if len(value) > 8 else "****"


def _mask_id_number(value: str) -> str:
    return f"{value[:3]}{'*' * max(len(value) - 5, 4)}{value[-2:]}" if len(value) > 6 else "****"


def _mask_date(value: str) -> str:
    return f"{value[:4]}-**-**" if len(value) >= 4 else "****"


_MASKS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone,
    "email": mask_email,
    "wechat_unionid": _mask_token,
    "wechat_openid": _mask_token,
    "id_number": _mask_id_number,
    "birth_date": _mask_date,
    "street": lambda _: "****",
    "postcode": lambda v: f"{v[:2]}****",
}

#: Personal identifiers and how they are masked for callers who may not see them in full.
MASKED_FIELDS: frozenset[str] = frozenset(_MASKS)


def mask_field(kind: str, value: Any) -> Any:
    """Mask ``value`` if ``kind`` names a personal identifier; other values pass through."""
    mask = _MASKS.get(kind)
    if mask is None or not isinstance(value, str) or not value:
        return value
    return mask(value)


def mask_identity_id(identity_id: str) -> str:
    """Mask the key part of an identity id such as ``phone:+8613800138000``.

    >>> mask_identity_id("email:li.na@example.com"), mask_identity_id("record:crm:42")
    ('email:l***@example.com', 'record:crm:42')
    """
    kind, sep, key = identity_id.partition(":")
    return f"{kind}{sep}{mask_field(kind, key)}" if kind in _MASKS else identity_id


def mask_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``props`` with every personal identifier masked.

    An identity's ``key`` is masked as the identifier its ``kind`` names, and an ``id`` of
    the form ``<kind>:<key>`` likewise.
    """
    out = {k: mask_field(k, v) for k, v in props.items()}
    if "attributes" in props:
        out["attributes"] = mask_attributes(props["attributes"])
    kind = props.get("kind")
    if isinstance(kind, str) and "key" in props:
        out["key"] = mask_field(kind, props["key"])
    if isinstance(props.get("id"), str):
        out["id"] = mask_identity_id(props["id"])
    return out


def mask_attributes(value: Any) -> Any:
    """A record's ``attributes`` (its unknown source columns, a JSON object or its text) with
    every value masked: nobody said what those columns hold, so a second phone or a home
    address may be among them. The names stay.

    >>> mask_attributes('{"mobile": "+8613912345678", "vip": true}')
    '{"mobile": "****", "vip": "****"}'
    """
    attributes = value
    if isinstance(value, str):
        try:
            attributes = json.loads(value)
        except ValueError:
            return "****"
    if not isinstance(attributes, Mapping):
        return None if value is None else "****"
    masked = {str(k): "****" for k in attributes}
    return json.dumps(masked, ensure_ascii=False) if isinstance(value, str) else masked


class Visibility:
    """Which customers a principal sees unmasked.

    Admins see everyone, viewers no one, sales the customers of their employee.
    """

    def __init__(self, store: GraphStore, principal: Principal) -> None:
        self.store = store
        self.principal = principal

    def unmasked(self, customer_ids: Collection[str]) -> set[str]:
        """The subset of ``customer_ids`` shown in full to this principal."""
        if not customer_ids:
            return set()
        if self.principal.role == "admin":
            return set(customer_ids)
        if self.principal.role == "viewer" or self.principal.employee_id is None:
            return set()
        rows = self.store.read_autocommit(
            q.API_OWN_CUSTOMERS,
            "checking which customers are served by the caller",
            ids=list(customer_ids),
            employee=self.principal.employee_id,
        )
        return set(rows[0]["ids"]) if rows else set()

    def shows(self, customer_id: str) -> bool:
        """Whether one customer is shown in full."""
        return customer_id in self.unmasked([customer_id])

    def shows_served(self, serving: Iterable[tuple[str, Any]]) -> bool:
        """Whether a customer is shown in full, given the ``(employee id, active)`` of its
        ``SERVED_BY`` relations, already read: the same answer as :meth:`shows` (a relation
        whose ``active`` is missing counts as active), without a query of its own.

        Examples
        --------
        >>> sales = Principal("k1", "sales", "Li", employee_id="E1")
        >>> store = None  # shows_served reads nothing from the store
        >>> Visibility(store, sales).shows_served([("E1", None)])
        True
        >>> Visibility(store, sales).shows_served([("E1", False), ("E2", True)])
        False
        """
        if self.principal.role == "admin":
            return True
        if self.principal.role == "viewer" or self.principal.employee_id is None:
            return False
        return any(
            employee == self.principal.employee_id and active is not False
            for employee, active in serving
        )
