"""The sentences the offline analyser writes, in the gym's language (fr or en)."""

from __future__ import annotations

TOPIC_NAMES = {
    "fr": {
        "classes": "cours",
        "schedule": "horaires",
        "pricing": "tarifs",
        "membership": "abonnement",
        "cancellation": "résiliation",
        "complaint": "réclamation",
        "equipment": "équipements",
        "personal_training": "coaching",
        "nutrition": "nutrition",
        "facilities": "installations",
        "other": "autre",
    },
    "en": {
        "classes": "classes",
        "schedule": "opening hours",
        "pricing": "pricing",
        "membership": "membership",
        "cancellation": "cancellation",
        "complaint": "complaint",
        "equipment": "equipment",
        "personal_training": "personal training",
        "nutrition": "nutrition",
        "facilities": "facilities",
        "other": "other",
    },
}

LANGUAGE_NAMES = {
    "fr": {"fr": "français", "en": "anglais"},
    "en": {"fr": "French", "en": "English"},
}

GOALS = {
    "fr": {
        "weight_loss": "Perdre du poids",
        "muscle": "Se muscler",
        "endurance": "Améliorer son endurance",
        "flexibility": "Gagner en souplesse",
        "wellbeing": "Réduire le stress, se sentir mieux",
        "recovery": "Reprendre après une blessure ou des douleurs",
        "fitness": "Se remettre en forme",
    },
    "en": {
        "weight_loss": "Lose weight",
        "muscle": "Build muscle",
        "endurance": "Improve endurance",
        "flexibility": "Improve flexibility",
        "wellbeing": "Reduce stress and feel better",
        "recovery": "Get back to training after an injury or pain",
        "fitness": "Get back in shape",
    },
}

FOLLOW_UPS = {
    "fr": {
        "intent_to_cancel": "Rappeler le membre au sujet de sa demande de résiliation",
        "complaint": "Traiter la réclamation du membre et lui répondre",
        "price_concern": "Présenter au membre les formules moins chères",
        "callback": "Recontacter le membre comme il l'a demandé",
        "personal_training": "Proposer au membre une séance avec un coach",
        "unsatisfied": "Vérifier que le membre a obtenu une réponse à sa question",
    },
    "en": {
        "intent_to_cancel": "Call the member back about their cancellation request",
        "complaint": "Look into the member's complaint and get back to them",
        "price_concern": "Walk the member through the cheaper plans",
        "callback": "Contact the member back as they asked",
        "personal_training": "Offer the member a session with a coach",
        "unsatisfied": "Check that the member got an answer to their question",
    },
}

SIGNAL_NAMES = {
    "fr": {
        "intent_to_cancel": "intention de résilier",
        "complaint": "réclamation",
        "price_concern": "prix jugé trop élevé",
    },
    "en": {
        "intent_to_cancel": "intent to cancel",
        "complaint": "complaint",
        "price_concern": "price concern",
    },
}

SILENT = {"fr": "Le membre n'a rien dit.", "en": "The member did not say anything."}


def summary_sentence(
    language: str, *, topics: list[str], quotes: list[str], spoken: str, signals: list[str]
) -> str:
    names = [TOPIC_NAMES[language][t] for t in topics if t != "other"]
    quoted = " … ".join(quotes)
    if language == "fr":
        parts = [f"Le membre a parlé de : {', '.join(names)}." if names else ""]
        if spoken != language:
            parts.append(f"Conversation en {LANGUAGE_NAMES['fr'][spoken]}.")
        parts.append(f"Il a dit : « {quoted} »")
        if signals:
            parts.append(f"À surveiller : {', '.join(SIGNAL_NAMES['fr'][s] for s in signals)}.")
    else:
        parts = [f"The member talked about: {', '.join(names)}." if names else ""]
        if spoken != language:
            parts.append(f"Conversation in {LANGUAGE_NAMES['en'][spoken]}.")
        parts.append(f'They said: "{quoted}"')
        if signals:
            parts.append(f"Watch for: {', '.join(SIGNAL_NAMES['en'][s] for s in signals)}.")
    return " ".join(p for p in parts if p)
