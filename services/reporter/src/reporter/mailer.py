"""Handing messages to the SMTP server (aiosmtplib), as configured by `JARVIS_REPORTER_SMTP_*`.

Connections are kept and reused (one per concurrent sender, at most `worker_concurrency`): a
weekly run hands thousands of messages to the same server, and a connection per message would
cost a handshake each. A connection that fails is dropped and the next send opens a new one.
"""

from __future__ import annotations

import asyncio
from email.utils import parseaddr

import aiosmtplib

from reporter.settings import Settings


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.envelope_from = parseaddr(settings.smtp_from)[1] or settings.smtp_from
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(settings.worker_concurrency)

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    async def send(self, message: bytes, recipient: str) -> None:
        """Returns once the server accepted the message for this recipient; raises otherwise."""
        async with self._slots:
            client = self._idle.pop() if self._idle else await self._connect()
            try:
                await client.sendmail(self.envelope_from, [recipient], message)
            except BaseException:
                client.close()
                raise
            self._idle.append(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            start_tls=s.smtp_starttls,
            username=s.smtp_username,
            password=s.smtp_password,
            timeout=s.smtp_timeout_s,
        )
        await client.connect()
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()
