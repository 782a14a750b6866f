"""Paginated lists: every list endpoint takes `limit` and `offset` and returns a `Page`."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    limit: int
    offset: int


def _page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(_page_params)]


async def paginate(
    session: AsyncSession, statement: Select[Any], params: PageParams, model: type[T]
) -> Page[T]:
    """Run a scoped, ordered `statement` for one page, and count the whole result."""
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    rows = (await session.execute(statement.limit(params.limit).offset(params.offset))).mappings()
    return Page[model](  # type: ignore[valid-type]
        items=[model.model_validate(dict(row)) for row in rows],  # type: ignore[attr-defined]
        total=total or 0,
        limit=params.limit,
        offset=params.offset,
    )
