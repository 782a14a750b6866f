"""What simulated members ask, what simulated gyms know, and what kiosks report about their
hardware: plausible, varied, in French and English."""

from __future__ import annotations

import random
from typing import Any

QUESTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "hours": (
            "Quels sont vos horaires ?",
            "Vous êtes ouverts le dimanche ?",
            "À quelle heure fermez-vous ce soir ?",
        ),
        "prices": (
            "Combien coûte l'abonnement ?",
            "Quels sont vos tarifs pour les étudiants ?",
            "C'est combien la séance à l'unité ?",
        ),
        "classes": (
            "Quels cours proposez-vous ?",
            "Il y a du yoga cette semaine ?",
            "Comment se passe le planning des cours collectifs ?",
        ),
        "cancellation": (
            "Comment résilier mon abonnement ?",
            "Je voudrais annuler mon inscription, je fais comment ?",
            "Est-ce que je peux suspendre mon abonnement pendant l'été ?",
        ),
    },
    "en": {
        "hours": (
            "What are your opening hours?",
            "Are you open on Sundays?",
            "When do you close tonight?",
        ),
        "prices": (
            "How much is the membership?",
            "Do you have a student price?",
            "What does a day pass cost?",
        ),
        "classes": (
            "Which classes do you have?",
            "Is there a yoga class this week?",
            "Where can I see the class schedule?",
        ),
        "cancellation": (
            "How do I cancel my membership?",
            "Can I freeze my membership for the summer?",
            "What is the notice period to cancel?",
        ),
    },
}

GYMS: dict[str, dict[str, Any]] = {
    "fr": {
        "name": "Simu Fitness Lyon",
        "info": {
            "opening_hours": {"lun-ven": "6h-23h", "sam-dim": "8h-20h"},
            "prices": {"mensuel": "29,90 €", "étudiant": "24,90 €", "séance": "9 €"},
            "classes": ["Yoga lun 18h", "Body Pump mer 19h", "Pilates sam 10h"],
            "contacts": {"téléphone": "04 78 00 00 00", "email": "accueil@simu-lyon.fr"},
        },
    },
    "en": {
        "name": "Simu Fitness London",
        "info": {
            "opening_hours": {"Mon-Fri": "6am-11pm", "Sat-Sun": "8am-8pm"},
            "prices": {"monthly": "£35", "student": "£28", "day pass": "£10"},
            "classes": ["Yoga Mon 6pm", "Spin Wed 7pm", "HIIT Sat 10am"],
            "contacts": {"phone": "020 7946 0000", "email": "desk@simu-london.co.uk"},
        },
    },
}


def conversation(language: str, count: int, rng: random.Random) -> list[str]:
    """`count` questions on different topics, in the gym's language."""
    bank = QUESTIONS["en" if language.startswith("en") else "fr"]
    topics = rng.sample(sorted(bank), k=min(count, len(bank)))
    return [rng.choice(bank[topic]) for topic in topics]


def hardware_info(device_id: str, uptime_s: float, rng: random.Random) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "model": "JARVIS Kiosk K2 (Raspberry Pi 5)",
        "os": "Raspberry Pi OS 12",
        "app_version": "1.8.3",
        "cpu_temp_c": round(rng.uniform(42, 61), 1),
        "cpu_load": round(rng.uniform(0.05, 0.6), 2),
        "free_disk_gb": round(rng.uniform(11, 14), 1),
        "wifi_rssi_dbm": rng.randint(-72, -41),
        "microphone": "ok",
        "speaker": "ok",
        "uptime_s": int(uptime_s),
    }
