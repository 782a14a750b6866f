"""Loading a synthetic population straight into the projection's tables with binary COPY.

For the benchmark and the training tests, which need far more history than is worth pushing
through the broker; the event path itself is tested with small populations.
"""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np

from churn_engine.synthetic import Population

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)
_CHECK_IN_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("id_len", ">i4"),
        ("member_id", "V16"),
        ("at_len", ">i4"),
        ("at", ">i8"),
        ("group_len", ">i4"),
        ("group", "u1"),
    ]
)


def check_ins_copy(
    population: Population, members: np.ndarray, at: np.ndarray, group: np.ndarray
) -> bytes:
    rows = np.empty(len(members), dtype=_CHECK_IN_ROW)
    rows["fields"] = 3
    rows["id_len"] = 16
    rows["member_id"] = population.member_bytes.view("V16").ravel()[members]
    rows["at_len"] = 8
    rows["at"] = np.round((at - _PG_EPOCH) * 1_000_000).astype(np.int64)
    rows["group_len"] = 1
    rows["group"] = group
    return _HEADER + rows.tobytes() + _TRAILER


async def load_members(conn: asyncpg.Connection, population: Population) -> int:
    ids = population.member_ids()
    start = population.start
    records = []
    for i, member_id in enumerate(ids):
        joined = start + timedelta(days=int(population.joined_day[i]))
        end = population.contract_end_day[i]
        gym = population.gym_ids[population.gym_index[i]]
        contract_end = None if np.isnan(end) else population.day(end)
        records.append(
            (
                member_id,
                joined,
                gym,
                "active",
                population.contract[i],
                joined.date(),
                contract_end,
                None,
            )
        )
        cancel = population.cancel_day[i]
        if not np.isnan(cancel) and cancel < population.days:
            at = start + timedelta(days=float(cancel))
            records.append(
                (
                    member_id,
                    at,
                    gym,
                    "cancelled",
                    population.contract[i],
                    joined.date(),
                    contract_end,
                    at.date(),
                )
            )
    await conn.copy_records_to_table(
        "member_versions",
        schema_name="churn",
        columns=(
            "member_id",
            "updated_at",
            "gym_id",
            "status",
            "contract_type",
            "joined_at",
            "contract_ends_at",
            "cancelled_at",
        ),
        records=records,
    )
    return len(records)


async def load_check_ins(conn: asyncpg.Connection, population: Population) -> int:
    total = 0
    first: dict[int, float] = {}
    for members, at, group in population.check_ins():
        if not len(members):
            continue
        await conn.copy_to_table(
            "check_ins",
            schema_name="churn",
            columns=("member_id", "checked_in_at", "group_class"),
            source=io.BytesIO(check_ins_copy(population, members, at, group)),
            format="binary",
        )
        gyms = population.gym_index[members]
        for gym in np.unique(gyms):
            earliest = float(at[gyms == gym].min())
            first[int(gym)] = min(first.get(int(gym), earliest), earliest)
        total += len(members)
    await conn.executemany(
        "INSERT INTO churn.gym_feeds (gym_id, first_check_in_at) VALUES ($1, $2) "
        "ON CONFLICT (gym_id) DO UPDATE SET first_check_in_at = "
        "least(churn.gym_feeds.first_check_in_at, excluded.first_check_in_at)",
        [(population.gym_ids[g], datetime.fromtimestamp(t, UTC)) for g, t in sorted(first.items())],
    )
    return total
