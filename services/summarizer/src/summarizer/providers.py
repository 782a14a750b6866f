"""The two ways to analyse a conversation, behind one small interface, and the choice of one."""

from __future__ import annotations

from typing import Protocol

from summarizer.analysis import Analysis
from summarizer.conversation import Conversation
from summarizer.metrics import SummarizerMetrics
from summarizer.offline import analyser
from summarizer.settings import Settings


class Provider(Protocol):
    name: str
    # Whether calls wait on something outside the process (and so are worth running at once);
    # a remote provider bounds how many of its calls are in flight itself.
    remote: bool

    async def analyse(self, conversation: Conversation) -> Analysis:
        """Raise PermanentError when this conversation can never be analysed; any other
        exception is transient and retried later."""
        ...

    async def aclose(self) -> None: ...


class OfflineProvider:
    name = "offline"
    remote = False

    async def analyse(self, conversation: Conversation) -> Analysis:
        return Analysis(analyser.analyse(conversation), model=analyser.MODEL)

    async def aclose(self) -> None:
        return None


def make_provider(settings: Settings, metrics: SummarizerMetrics) -> Provider:
    if settings.uses_openai:
        if settings.openai_api_key is None:
            raise RuntimeError(
                "JARVIS_SUMMARIZER_PROVIDER=openai needs JARVIS_SUMMARIZER_OPENAI_API_KEY "
                "(or OPENAI_API_KEY)"
            )
        from summarizer.openai_provider import OpenAIProvider

        return OpenAIProvider(settings, metrics)
    return OfflineProvider()
