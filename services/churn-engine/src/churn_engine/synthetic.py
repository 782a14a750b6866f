"""A seeded generator of gym members and check-in histories with known churn behaviour.

Used by the tests, the training check and the benchmark. Every member has a weekly visit rate
of their own. Churners (`churn_share`) cancel on a known day; in the 60 days before it their
visits fade to nothing (half of them stop outright 40 days before). New members join in the last
days of the horizon. Nothing after a churner's cancellation day is generated, and the cancelled
status is a member version dated that day, so labels come from the history itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

DAY_S = 86_400.0
CONTRACTS = np.array(["monthly", "annual", "two_year"], dtype=object)
FADE_DAYS = 60
STOP_DAYS = 40
# (member index, epoch seconds, group class) per check-in
CheckIns = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Population:
    start: datetime  # midnight UTC, day 0 of the horizon
    days: int
    gym_ids: list[uuid.UUID]
    member_bytes: np.ndarray  # (n, 16) uint8: the members' UUIDs
    gym_index: np.ndarray  # int, per member
    joined_day: np.ndarray  # int, day relative to start (negative: joined before)
    cancel_day: np.ndarray  # float, NaN for members who stay
    rate: np.ndarray  # visits per week when engaged
    group_share: np.ndarray
    contract: np.ndarray  # object
    contract_end_day: np.ndarray  # float, NaN for open-ended contracts
    intent_day: np.ndarray  # float: a kiosk conversation with intent to cancel, else NaN
    seed: int

    def __len__(self) -> int:
        return len(self.gym_index)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def member_ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(bytes=bytes(row)) for row in self.member_bytes]

    def day(self, offset: float) -> date:
        return (self.start + timedelta(days=float(offset))).date()

    def churns_within(self, day: float, horizon: float = 30) -> np.ndarray:
        """Members still there on `day` who cancel within `horizon` days: the label."""
        c = self.cancel_day
        return ~np.isnan(c) & (c >= day) & (c < day + horizon)

    def check_ins(self, chunk: int = 100_000) -> Iterator[CheckIns]:
        """(member index, epoch seconds, group class) per check-in, member chunk by chunk."""
        rng = np.random.default_rng(self.seed + 1)
        days = np.arange(self.days, dtype=np.float64)
        base = self.start.timestamp()
        for lo in range(0, len(self), chunk):
            hi = min(lo + chunk, len(self))
            rate = self.rate[lo:hi, None] / 7.0 * np.ones((1, self.days))
            cancel = np.nan_to_num(self.cancel_day[lo:hi, None], nan=np.inf)
            fade = np.clip((cancel - days[None, :]) / FADE_DAYS, 0.0, 1.0)
            # half of the churners stop outright STOP_DAYS before they cancel
            abrupt = (np.arange(lo, hi) % 2 == 0)[:, None] & (days[None, :] >= cancel - STOP_DAYS)
            rate = rate * fade * ~abrupt
            rate[days[None, :] < self.joined_day[lo:hi, None]] = 0.0
            counts = rng.poisson(rate)
            member_rows, day_cols = np.nonzero(counts)
            repeat = counts[member_rows, day_cols]
            member = np.repeat(member_rows + lo, repeat)
            day = np.repeat(day_cols, repeat).astype(np.float64)
            hour = rng.uniform(6.0, 22.0, size=len(member))
            offset = (day * DAY_S + np.round(hour * 3600.0)).astype(np.int64)
            # A member checks in once per instant, as the registry stores it.
            key = np.unique(member.astype(np.int64) * 2**32 + offset)
            member, offset = key // 2**32, key % 2**32
            group = rng.random(len(member)) < self.group_share[member]
            yield member, base + offset.astype(np.float64), group


def generate(
    members: int,
    *,
    gyms: int = 1,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    days: int = 90,
    seed: int = 7,
    churn_share: float = 0.15,
    new_share: float = 0.03,
    mean_rate: float = 1.1,
) -> Population:
    rng = np.random.default_rng(seed)
    n = members
    kind = rng.random(n)
    churner = kind < churn_share
    new = (kind >= churn_share) & (kind < churn_share + new_share)
    joined = -rng.integers(30, 1500, size=n)
    joined[new] = days - rng.integers(1, 12, size=int(new.sum()))
    cancel = np.full(n, np.nan)
    # churners cancel anywhere from the middle of the horizon to 30 days after its end
    cancel[churner] = rng.uniform(days * 0.4, days + 30, size=int(churner.sum())).round()
    contract_index = rng.choice(3, size=n, p=[0.5, 0.4, 0.1])
    contract = CONTRACTS[contract_index]
    end = np.where(contract_index == 0, np.nan, rng.integers(1, 700, size=n).astype(float))
    ends_with_cancel = churner & (contract_index > 0)
    end[ends_with_cancel] = cancel[ends_with_cancel]
    intent = np.full(n, np.nan)
    says = churner & (rng.random(n) < 0.3)
    intent[says] = cancel[says] - rng.integers(3, 20, size=int(says.sum()))
    return Population(
        start=start,
        days=days,
        gym_ids=[uuid.UUID(int=int(rng.integers(1, 2**62)) * 2**64 + g) for g in range(gyms)],
        member_bytes=rng.integers(0, 256, size=(n, 16), dtype=np.uint8),
        gym_index=rng.integers(0, gyms, size=n),
        joined_day=joined,
        cancel_day=cancel,
        rate=np.where(churner, 1.3, 1.0) * rng.gamma(4.0, mean_rate / 4.0, size=n),
        group_share=np.where(churner, 0.05, rng.beta(2, 5, size=n)),
        contract=contract,
        contract_end_day=end,
        intent_day=intent,
        seed=seed,
    )
