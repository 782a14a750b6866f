"""What a Realtime session is told: the instructions (persona, the gym, the member) and the
session configuration, built from the kiosk's configuration as the gateway last learned it."""

from __future__ import annotations

import json
from typing import Any

from jarvis_common.events.catalogue import KioskConfig
from session_gateway.providers import MemberContext

AUDIO_FORMAT = {"type": "audio/pcm", "rate": 24000}

_LANGUAGES = {"fr": "French", "en": "English"}


def language_name(config: KioskConfig) -> str:
    return _LANGUAGES.get(config.language.split("-")[0].lower(), config.language)


def instructions(config: KioskConfig, member: MemberContext) -> str:
    gym = config.gym_name or "the gym"
    lines = [
        config.persona
        or f"You are the voice concierge of {gym}, on a kiosk in the gym. Be warm and brief.",
        f"Speak {language_name(config)} unless the member speaks another language.",
        "Answer only from the gym information below. When it does not say, tell the member "
        "plainly that you do not know and that the staff at the desk can help. Never invent "
        "prices, times or promises.",
    ]
    if config.location_in_gym:
        lines.append(f"The kiosk stands at: {config.location_in_gym}.")
    if config.gym_info:
        info = json.dumps(config.gym_info, ensure_ascii=False, sort_keys=True, default=str)
        lines.append(f"Gym information ({gym}): {info}")
    if member.member_id is not None:
        known = {
            "first name": member.first_name,
            "membership status": member.status,
            "contract": member.contract_type,
            "contract ends": member.contract_ends_at,
        }
        facts = "; ".join(f"{k}: {v}" for k, v in known.items() if v)
        lines.append(f"The member has identified themselves. {facts or 'Nothing else is known.'}")
    else:
        lines.append("The member is anonymous.")
    return "\n".join(lines)


def wrap_up_instructions(config: KioskConfig, member: MemberContext) -> str:
    return (
        instructions(config, member)
        + "\nThe conversation has reached its time limit. In one or two short sentences, in "
        f"{language_name(config)}, tell the member the time is up, thank them and say goodbye."
    )


def continue_instructions(config: KioskConfig, member: MemberContext) -> str:
    return (
        instructions(config, member)
        + "\nYour previous answer was cut off. Continue it from where it stopped, without "
        "repeating what you already said."
    )


def session_update(
    config: KioskConfig, member: MemberContext, transcription_model: str
) -> dict[str, Any]:
    transcription: dict[str, Any] = {"model": transcription_model}
    if config.language.split("-")[0].lower() in _LANGUAGES:
        transcription["language"] = config.language.split("-")[0].lower()
    return {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": instructions(config, member),
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": AUDIO_FORMAT,
                    "transcription": transcription,
                    # server VAD: a turn is speech, not microphone noise; talking over the
                    # assistant cancels its response (barge-in)
                    "turn_detection": {
                        "type": "server_vad",
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": AUDIO_FORMAT, "voice": config.voice_model},
            },
        },
    }
