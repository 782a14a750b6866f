"""`FakeOpenAI`: the fake server's lifecycle, its app and its two halves (`realtime`, `http`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI, Request, WebSocket

from jarvis_common.testing.fake_openai._common import Ids
from jarvis_common.testing.fake_openai.http import HttpFake
from jarvis_common.testing.fake_openai.realtime import RealtimeFake

T = TypeVar("T")

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process under test owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class FakeOpenAI:
    """A local server speaking the OpenAI API's protocol, for the real `openai` SDK.

    ```
    async with FakeOpenAI() as fake:
        client = AsyncOpenAI(**fake.client_options())
        fake.realtime.queue_answers("We open at 6.")
        fake.http.queue(Reply.rate_limited(), Reply.structured({...}))
    ```

    `start()`/`stop()` (or `async with`) run it as a task of the running event loop;
    `with FakeOpenAI() as fake:` runs it in a thread of its own, for synchronous code.
    It listens on loopback only.
    """

    def __init__(
        self, *, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the fake OpenAI server listens on loopback only, not {host!r}")
        self.api_key = api_key  # when set, other keys get `invalid_api_key`
        self.host = host
        self.ids = Ids()
        self.realtime = RealtimeFake(self)
        self.http = HttpFake(self)
        self.app = self._build_app()
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = asyncio.Event()

    # ----------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the fake OpenAI server is not started")
        return int(self._socket.getsockname()[1])

    @property
    def http_url(self) -> str:
        """The SDK's `base_url`."""
        return f"http://{self._netloc}/v1"

    @property
    def ws_url(self) -> str:
        """The SDK's `websocket_base_url` (it appends `/realtime?model=...`)."""
        return f"ws://{self._netloc}/v1"

    @property
    def _netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for `AsyncOpenAI(...)` / `OpenAI(...)` pointing at this fake."""
        return {
            "api_key": self.api_key or "sk-fake-test-key",
            "base_url": self.http_url,
            "websocket_base_url": self.ws_url,
            **overrides,
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> FakeOpenAI:
        if self._task is not None:
            raise RuntimeError("the fake OpenAI server is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.setblocking(False)
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            ws="websockets-sansio",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config)
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._task = self._loop.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the fake OpenAI server stopped while starting")
            await asyncio.sleep(0.005)
        return self

    async def stop(self) -> None:
        if self._task is None or self._server is None:
            return
        self._stopping.set()
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
        except TimeoutError:
            self._server.force_exit = True
            await self._task
        finally:
            self._task = None
            if self._socket is not None:
                self._socket.close()

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> FakeOpenAI:
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        assert loop is not None and self._thread is not None
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=5)
            loop.close()
            self._thread = None

    async def on_server_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's event loop (directly when we are on it)."""
        if self._loop is None or asyncio.get_running_loop() is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    # ----------------------------------------------------------------- the app

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.websocket("/v1/realtime")
        async def realtime(websocket: WebSocket) -> None:
            await self.realtime._serve(websocket)

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> Any:
            return await self.http._serve(request, "chat.completions")

        @app.post("/v1/responses")
        async def responses(request: Request) -> Any:
            return await self.http._serve(request, "responses")

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def anything_else(request: Request, path: str) -> Any:
            return await self.http._serve(request, f"/{path}")

        return app

    def _abort_transport(self, websocket: WebSocket) -> bool:
        """Cut the TCP connection under `websocket` (no close frame: the client sees 1006)."""
        client = websocket.client
        if self._server is None or client is None:
            return False
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is None:
                continue
            peer = transport.get_extra_info("peername")
            if peer is not None and (peer[0], peer[1]) == (client.host, client.port):
                transport.abort()
                return True
        return False
