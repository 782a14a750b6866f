from collections.abc import AsyncIterator

import pytest

from jarvis_common.service import ServiceApp
from jarvis_common.settings import PlatformSettings
from probe import Behaviour, bootstrap, create_probe_schema


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour()


@pytest.fixture
async def probe(
    platform_settings: PlatformSettings, behaviour: Behaviour
) -> AsyncIterator[ServiceApp]:
    await create_probe_schema(platform_settings.database_url)
    app = bootstrap(platform_settings, behaviour)
    async with app.running():
        yield app
