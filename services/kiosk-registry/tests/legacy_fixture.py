"""A legacy registry (alembic revision 0001) holding every kind of messy data the legacy migration
must survive, each case with what it should become: how many kiosks, which report rows, and for
users which franchise_id / gym_id.

Ids are derived from the case labels, so tests name a gym, kiosk or user by its label. Gyms are
created one minute apart in the order listed: that order decides who keeps a contested slug,
id or provisioning code.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from jarvis_common.settings import plain_dsn

_NAMESPACE = uuid.UUID("6f1d4f0e-3c55-4a55-9a49-6c0a5d3c1e21")
NULL = object()  # SQL NULL, as opposed to the JSON value null (None)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def uid(label: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, label)


ALPHA, BETA = uid("franchise alpha"), uid("franchise beta")
MISSING_GYM, MISSING_FRANCHISE = uid("no such gym"), uid("no such franchise")
KEPT_KIOSK_ID = uid("kiosk with a legacy id")

# (field, problem, entry_index) of one report row.
Problem = tuple[str, str, int | None]


@dataclass(frozen=True)
class Gym:
    label: str
    name: str
    config: Any = NULL
    franchise: uuid.UUID | None = None
    kiosks: int = 0  # kiosks the migration must create
    problems: tuple[Problem, ...] = ()  # report rows it must write, exactly

    @property
    def id(self) -> uuid.UUID:
        return uid(f"gym {self.label}")


def _k(slug: str, **fields: Any) -> dict[str, Any]:
    """A legacy kiosk object with a slug and a name (so only the case under test is reported)."""
    return {"slug": slug, "name": fields.pop("name", slug.title()), **fields}


GYMS: tuple[Gym, ...] = (
    Gym(
        "clean object",
        "Paris Nord",
        {
            "id": str(uid("kiosk paris nord")),
            "slug": "paris-nord",
            "name": "Accueil",
            "provisioning_code": "PN-1001",
            "status": "online",
            "last_heartbeat": "2025-10-20T08:15:00+00:00",
            "device_id": "dev-pn-1",
            "hardware_info": {"model": "rpi5", "ram_gb": 8},
            "voice_model": "verse",
            "openai_model": "gpt-4o-realtime-preview",
            "location_in_gym": "Entrance",
            "created_at": "2024-03-01T09:00:00+00:00",
        },
        franchise=ALPHA,
        kiosks=1,
    ),
    Gym(
        "clean list",
        "Lyon Part-Dieu",
        [
            _k("lyon-accueil", provisioning_code="LY-1", status="offline", device_id="dev-ly-1"),
            _k("lyon-vestiaires", provisioning_code="LY-2", status="provisioning"),
        ],
        franchise=ALPHA,
        kiosks=2,
    ),
    Gym("sql null", "Vannes"),
    Gym("json null", "Lorient", None),
    Gym("empty object", "Quimper", {}, problems=(("kiosk_config", "empty", None),)),
    Gym("empty list", "Saint-Malo", [], problems=(("kiosk_config", "empty", None),)),
    Gym(
        "text", "Laval", "kiosk at the entrance", problems=(("kiosk_config", "not_a_kiosk", None),)
    ),
    Gym("number", "Le Mans", 42, problems=(("kiosk_config", "not_a_kiosk", None),)),
    Gym("boolean", "Cholet", True, problems=(("kiosk_config", "not_a_kiosk", None),)),
    Gym(
        "undecodable string",
        "Vichy",
        "{not json",
        problems=(("kiosk_config", "not_a_kiosk", None),),
    ),
    Gym(
        "double encoded",
        "Marseille Prado",
        json.dumps(_k("marseille-prado", provisioning_code="MP-1")),
        franchise=BETA,
        kiosks=1,
        problems=(("kiosk_config", "double_encoded", None),),
    ),
    Gym(
        "double encoded list",
        "Nice Port",
        json.dumps([_k("nice-1"), _k("nice-2")]),
        franchise=BETA,
        kiosks=2,
        problems=(("kiosk_config", "double_encoded", None),),
    ),
    Gym(
        "mixed list",
        "Toulouse Capitole",
        [_k("toulouse-a", provisioning_code="TL-1"), "garbage", 7, None, {}, [], _k("toulouse-b")],
        kiosks=2,
        problems=tuple(("kiosk_config", "not_a_kiosk", i) for i in (1, 2, 3, 4, 5)),
    ),
    Gym(
        "missing slug",
        "Salle Énergie Bordeaux",
        {"name": "Accueil", "provisioning_code": "BX-1"},
        kiosks=1,
        problems=(("slug", "missing", None),),
    ),
    Gym(
        "empty slug",
        "Fitness Club",
        {"slug": "", "name": "A"},
        kiosks=1,
        problems=(("slug", "missing", None),),
    ),
    Gym(
        "same name, null slug",
        "Fitness Club",
        {"slug": None, "name": "B"},
        kiosks=1,
        problems=(("slug", "missing", None),),
    ),
    Gym(
        "unusable slug",
        "Cœur de Ville",
        {"slug": "###", "name": "C"},
        kiosks=1,
        problems=(("slug", "missing", None),),
    ),
    Gym("lobby first", "Lobby One", _k("lobby"), kiosks=1),
    Gym(
        "lobby again",
        "Lobby Two",
        _k("lobby"),
        kiosks=1,
        problems=(("slug", "duplicate", None),),
    ),
    Gym("lobby-2 explicit", "Lobby Three", _k("lobby-2"), kiosks=1),
    Gym(
        "slug to normalize",
        "Rennes",
        _k("Main Hall #1"),
        kiosks=1,
        problems=(("slug", "normalized", None),),
    ),
    Gym("code first", "Nantes", _k("nantes", provisioning_code="DUP-777"), kiosks=1),
    Gym(
        "code again",
        "Angers",
        _k("angers", provisioning_code="DUP-777"),
        kiosks=1,
        problems=(("provisioning_code", "duplicate", None),),
    ),
    Gym(
        "code twice in a list",
        "Tours",
        [_k("tours-1", provisioning_code="TOURS"), _k("tours-2", provisioning_code="TOURS")],
        kiosks=2,
        problems=(("provisioning_code", "duplicate", 1),),
    ),
    Gym(
        "statuses",
        "Dijon",
        [
            _k("dijon-1", status="broken"),
            _k("dijon-2", status=" ONLINE ", device_id="d2"),
            _k("dijon-3", status="rebooting", device_id="d3"),
            _k("dijon-4", status=3, device_id="d4"),
            _k("dijon-5", device_id="d5"),
        ],
        kiosks=5,
        problems=(("status", "invalid", 0), ("status", "invalid", 2), ("status", "invalid", 3)),
    ),
    Gym(
        "heartbeats",
        "Grenoble",
        [
            _k("grenoble-1", last_heartbeat="not a date"),
            _k("grenoble-2", last_heartbeat=1714557600),
            _k("grenoble-3", last_heartbeat=1714557600000),
            _k("grenoble-4", last_heartbeat="2999-01-01T00:00:00Z"),
            _k("grenoble-5", last_heartbeat="now"),
            _k("grenoble-6", last_heartbeat="2024-02-30T10:00:00Z"),
            _k("grenoble-7", last_heartbeat={"at": 1}),
            _k("grenoble-8", last_heartbeat="2024-05-01 12:00:00+02"),
        ],
        kiosks=8,
        problems=tuple(("last_heartbeat", "invalid", i) for i in (0, 3, 4, 5, 6)),
    ),
    Gym(
        "hardware",
        "Metz",
        [
            _k("metz-1", hardware_info="raspberry pi 4"),
            _k("metz-2", hardware_info='{"model": "rpi4"}'),
            _k("metz-3", hardware_info=[1, 2]),
            _k("metz-4", hardware_info=None),
        ],
        kiosks=4,
        problems=tuple(("hardware_info", "invalid", i) for i in (0, 1, 2)),
    ),
    Gym(
        "voice and model",
        "Lille",
        [
            _k("lille-1"),
            _k("lille-2", voice_model=5),
            _k("lille-3", openai_model=""),
            _k("lille-4", voice="shimmer", model="gpt-4o-realtime-preview"),
        ],
        kiosks=4,
        problems=(("voice_model", "invalid", 1), ("openai_model", "invalid", 2)),
    ),
    Gym(
        "names",
        "Reims",
        [{"slug": "reims-1"}, {"slug": "reims-2", "name": 17}, {"slug": "reims-3", "name": {}}],
        kiosks=3,
        problems=(("name", "missing", 0), ("name", "invalid", 2)),
    ),
    Gym(
        "name missing, one kiosk",
        "Brest",
        {"slug": "brest"},
        kiosks=1,
        problems=(("name", "missing", None),),
    ),
    Gym(
        "ids",
        "Caen",
        [
            _k("caen-1", id=str(KEPT_KIOSK_ID)),
            _k("caen-2", id="abc"),
            _k("caen-3", id=str(KEPT_KIOSK_ID)),
        ],
        kiosks=3,
        problems=(("id", "invalid", 1), ("id", "duplicate", 2)),
    ),
    Gym(
        "camelCase and short keys",
        "Amiens",
        {
            "kioskId": str(uid("kiosk amiens")),
            "slug": "amiens",
            "name": "Amiens",
            "code": "AM-1",
            "deviceId": "dev-am",
            "voice": "shimmer",
            "model": "gpt-4o-realtime-preview",
            "location": "Lobby",
            "lastHeartbeat": "2025-01-01T00:00:00+01:00",
            "hardwareInfo": {"screen": "10in"},
        },
        kiosks=1,
    ),
    Gym(
        "unknown keys",
        "Limoges",
        _k("limoges", wifi_password="hunter2", theme="dark"),
        kiosks=1,
        problems=(("kiosk_config", "unknown_keys", None),),
    ),
    Gym(
        "code types",
        "Poitiers",
        [
            _k("poitiers-1", provisioning_code=123456),
            _k("poitiers-2", provisioning_code={"v": 1}),
            _k("poitiers-3", provisioning_code="   "),
            _k("poitiers-4", provisioning_code=" PT-4 "),
        ],
        kiosks=4,
        problems=(("provisioning_code", "invalid", 1),),
    ),
    Gym(
        "device types",
        "Orléans",
        [_k("orleans-1", device_id=98765), _k("orleans-2", device_id=["a"])],
        kiosks=2,
        problems=(("device_id", "invalid", 1),),
    ),
    Gym(
        "location",
        "Nîmes",
        _k("nimes", location_in_gym=True),
        kiosks=1,
        problems=(("location_in_gym", "invalid", None),),
    ),
    Gym(
        "created_at",
        "Pau",
        [_k("pau-1", created_at="yesterday"), _k("pau-2", created_at=1700000000)],
        kiosks=2,
        problems=(("created_at", "invalid", 0),),
    ),
    Gym(
        "only unknown keys",
        "Perpignan",
        {"theme": "dark"},
        kiosks=1,
        problems=(
            ("kiosk_config", "unknown_keys", None),
            ("name", "missing", None),
            ("slug", "missing", None),
        ),
    ),
    Gym(
        "derived slug meets legacy ones",
        "Lobby",
        {"name": "Lobby desk"},
        kiosks=1,
        problems=(("slug", "missing", None),),
    ),
)

GYM = {gym.label: gym for gym in GYMS}


@dataclass(frozen=True)
class User:
    label: str
    role: str
    franchise_access: Any = NULL
    gym_access: Any = NULL
    franchise_id: uuid.UUID | None = None  # before the migration
    gym_id: uuid.UUID | None = None
    expect_franchise_id: uuid.UUID | None = None  # after it
    expect_gym_id: uuid.UUID | None = None
    problems: tuple[tuple[str, str], ...] = ()  # (field, problem) report rows, exactly

    @property
    def id(self) -> uuid.UUID:
        return uid(f"user {self.label}")


def _g(label: str) -> uuid.UUID:
    return GYM[label].id


G_ALPHA_1, G_ALPHA_2 = _g("clean object"), _g("clean list")
G_BETA = _g("double encoded")
G_ALONE = _g("mixed list")

USERS: tuple[User, ...] = (
    User("gym from an array", "gym_manager", gym_access=[str(G_ALPHA_1)], expect_gym_id=G_ALPHA_1),
    User(
        "franchise from a string",
        "franchise_owner",
        franchise_access=str(ALPHA),
        expect_franchise_id=ALPHA,
    ),
    User(
        "gym already set",
        "gym_manager",
        gym_access=[str(G_ALPHA_1)],
        gym_id=G_ALPHA_2,
        expect_gym_id=G_ALPHA_2,
        problems=(("gym_access", "not_carried"),),
    ),
    User(
        "gym of the user's franchise wins",
        "gym_manager",
        gym_access=[str(G_BETA), str(G_ALPHA_1)],
        franchise_id=ALPHA,
        expect_franchise_id=ALPHA,
        expect_gym_id=G_ALPHA_1,
        problems=(("gym_access", "ambiguous"),),
    ),
    User(
        "first listed gym wins",
        "gym_manager",
        gym_access=[str(G_ALPHA_2), str(G_ALPHA_1)],
        expect_gym_id=G_ALPHA_2,
        problems=(("gym_access", "ambiguous"),),
    ),
    User(
        "junk string",
        "gym_manager",
        gym_access=["not-a-uuid"],
        problems=(("gym_access", "invalid"),),
    ),
    User(
        "unknown gym",
        "gym_manager",
        gym_access=[str(MISSING_GYM)],
        problems=(("gym_access", "unknown_id"),),
    ),
    User(
        "comma separated",
        "franchise_owner",
        franchise_access=f"{ALPHA}, {BETA}",
        expect_franchise_id=ALPHA,
        problems=(("franchise_access", "ambiguous"),),
    ),
    User(
        "super admin",
        "super_admin",
        franchise_access=[str(ALPHA)],
        gym_access=[str(G_ALPHA_1)],
        problems=(("franchise_access", "not_applicable"), ("gym_access", "not_applicable")),
    ),
    User(
        "owner with a gym",
        "franchise_owner",
        franchise_access=[str(ALPHA)],
        gym_access=[str(G_ALPHA_1)],
        expect_franchise_id=ALPHA,
        problems=(("gym_access", "not_applicable"),),
    ),
    User("number", "gym_manager", gym_access=42, problems=(("gym_access", "invalid"),)),
    User(
        "object",
        "gym_manager",
        gym_access={"id": str(G_ALPHA_1)},
        problems=(("gym_access", "invalid"),),
    ),
    User("nothing", "gym_manager"),
    User(
        "mixed array",
        "gym_manager",
        gym_access=[str(G_ALPHA_1), "junk", str(MISSING_GYM), 5],
        expect_gym_id=G_ALPHA_1,
        problems=(
            ("gym_access", "invalid"),
            ("gym_access", "invalid"),
            ("gym_access", "unknown_id"),
        ),
    ),
    User(
        "dangling franchise_id",
        "franchise_owner",
        franchise_access=[str(BETA)],
        franchise_id=MISSING_FRANCHISE,
        expect_franchise_id=BETA,
        problems=(("franchise_id", "dangling"),),
    ),
    User(
        "JSON array inside a string",
        "gym_manager",
        gym_access=json.dumps([str(G_ALPHA_1)]),
        expect_gym_id=G_ALPHA_1,
    ),
    User("empty array", "gym_manager", gym_access=[]),
    User(
        "gym outside the franchise",
        "gym_manager",
        gym_access=[str(G_ALPHA_1)],
        franchise_id=BETA,
        expect_franchise_id=BETA,
        expect_gym_id=G_ALPHA_1,
        problems=(("gym_access", "outside_franchise"),),
    ),
    User(
        "listed twice",
        "gym_manager",
        gym_access=[str(G_ALPHA_1), str(G_ALPHA_1).upper()],
        expect_gym_id=G_ALPHA_1,
    ),
    User(
        "postgres array literal",
        "franchise_owner",
        franchise_access=f"{{{ALPHA}}}",
        expect_franchise_id=ALPHA,
    ),
    User(
        "franchise of the user's gym wins",
        "gym_manager",
        franchise_access=[str(ALPHA), str(BETA)],
        gym_id=G_BETA,
        expect_franchise_id=BETA,
        expect_gym_id=G_BETA,
        problems=(("franchise_access", "ambiguous"),),
    ),
    User(
        "dangling gym_id",
        "gym_manager",
        gym_id=MISSING_GYM,
        problems=(("gym_id", "dangling"),),
    ),
    User("json null", "gym_manager", gym_access=None),
    User("blank string", "gym_manager", gym_access="  "),
    User("independent gym", "gym_manager", gym_access=str(G_ALONE), expect_gym_id=G_ALONE),
)

USER = {user.label: user for user in USERS}


def _json(value: Any) -> str | None:
    return None if value is NULL else json.dumps(value)


async def load(database_url: str) -> None:
    """Fill a registry database at revision 0001 with the legacy fixture."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO registry.franchises (id, name, created_at) VALUES ($1, $2, $3)",
                [(ALPHA, "Alpha Fitness", EPOCH), (BETA, "Beta Gyms", EPOCH)],
            )
            await conn.executemany(
                "INSERT INTO registry.gyms (id, franchise_id, name, kiosk_config, created_at)"
                " VALUES ($1, $2, $3, $4::jsonb, $5)",
                [
                    (
                        gym.id,
                        gym.franchise,
                        gym.name,
                        _json(gym.config),
                        EPOCH + timedelta(minutes=i),
                    )
                    for i, gym in enumerate(GYMS)
                ],
            )
            await conn.executemany(
                "INSERT INTO registry.users (id, email, role, franchise_id, gym_id,"
                " franchise_access, gym_access) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)",
                [
                    (
                        user.id,
                        f"user{i}@legacy.example",
                        user.role,
                        user.franchise_id,
                        user.gym_id,
                        _json(user.franchise_access),
                        _json(user.gym_access),
                    )
                    for i, user in enumerate(USERS)
                ],
            )
    finally:
        await conn.close()


def kiosk_entries(config: Any) -> int:
    """How many kiosks a legacy config describes, counted independently of the migration: an
    object is one, a list is one per element, JSON text in a string counts as what it encodes,
    any other value is one (unusable) entry; nothing, {} and [] are none."""
    if config is NULL or config is None or config == {}:
        return 0
    if isinstance(config, str):
        try:
            decoded = json.loads(config)
        except ValueError:
            return 1
        return kiosk_entries(decoded) if isinstance(decoded, dict | list) else 1
    if isinstance(config, list):
        return len(config)
    return 1
