"""The words and number formats of a report, in French or English (the gym's language)."""

from __future__ import annotations

from datetime import date

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Weekly report",
        "franchise_title": "Weekly franchise report",
        "week": "Week {iso} ({start} to {end})",
        "figure": "Figure",
        "this_week": "This week",
        "previous_week": "Previous week",
        "change": "Change",
        "sessions": "Kiosk sessions",
        "members_talked": "Members who talked to the kiosk",
        "avg_session_seconds": "Average session length (s)",
        "check_ins": "Check-ins",
        "new_members": "New members",
        "cancelled_members": "Cancelled members",
        "members_at_start": "Members at the start of the week",
        "members_at_end": "Members at the end of the week",
        "attrition_rate": "Attrition",
        "alerts_raised": "Churn alerts raised",
        "alerts_resolved": "Churn alerts resolved",
        "alerts_open": "Churn alerts open",
        "conversations": "Summarised conversations",
        "sentiment_average": "Average sentiment (-1 to 1)",
        "cost_usd": "OpenAI cost (USD)",
        "cost_per_session_usd": "OpenAI cost per session (USD)",
        "daily": "Day by day",
        "day": "Day",
        "topics": "Top conversation topics",
        "topic": "Topic",
        "count": "Conversations",
        "sentiment": "Sentiment",
        "positive": "positive",
        "neutral": "neutral",
        "negative": "negative",
        "at_risk": "Members at risk",
        "member": "Member",
        "risk": "Risk",
        "since": "Alert since",
        "follow_ups": "Follow-ups requested",
        "none": "None this week.",
        "more": "and {n} more in the attached files.",
        "gyms": "Gyms",
        "gym": "Gym",
        "sessions_chart": "Kiosk sessions per day",
        "sentiment_chart": "Average sentiment per day",
        "attachments": "The full report is attached as PDF and CSV.",
        "days": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    },
    "fr": {
        "title": "Rapport hebdomadaire",
        "franchise_title": "Rapport hebdomadaire de la franchise",
        "week": "Semaine {iso} (du {start} au {end})",
        "figure": "Indicateur",
        "this_week": "Cette semaine",
        "previous_week": "Semaine précédente",
        "change": "Évolution",
        "sessions": "Sessions au kiosque",
        "members_talked": "Membres ayant parlé au kiosque",
        "avg_session_seconds": "Durée moyenne d\u2019une session (s)",
        "check_ins": "Passages à l\u2019accueil",
        "new_members": "Nouveaux membres",
        "cancelled_members": "Résiliations",
        "members_at_start": "Membres en début de semaine",
        "members_at_end": "Membres en fin de semaine",
        "attrition_rate": "Attrition",
        "alerts_raised": "Alertes de départ levées",
        "alerts_resolved": "Alertes de départ résolues",
        "alerts_open": "Alertes de départ ouvertes",
        "conversations": "Conversations résumées",
        "sentiment_average": "Sentiment moyen (-1 à 1)",
        "cost_usd": "Coût OpenAI (USD)",
        "cost_per_session_usd": "Coût OpenAI par session (USD)",
        "daily": "Jour par jour",
        "day": "Jour",
        "topics": "Sujets de conversation les plus fréquents",
        "topic": "Sujet",
        "count": "Conversations",
        "sentiment": "Sentiment",
        "positive": "positif",
        "neutral": "neutre",
        "negative": "négatif",
        "at_risk": "Membres à risque",
        "member": "Membre",
        "risk": "Risque",
        "since": "Alerte depuis",
        "follow_ups": "Suivis demandés à l\u2019équipe",
        "none": "Aucun cette semaine.",
        "more": "et {n} de plus dans les pièces jointes.",
        "gyms": "Salles",
        "gym": "Salle",
        "sessions_chart": "Sessions au kiosque par jour",
        "sentiment_chart": "Sentiment moyen par jour",
        "attachments": "Le rapport complet est joint en PDF et CSV.",
        "days": "lun.,mar.,mer.,jeu.,ven.,sam.,dim.",
    },
}


class Words:
    def __init__(self, language: str) -> None:
        self.language = language if language in LABELS else "en"
        self._labels = LABELS[self.language]

    def __getitem__(self, key: str) -> str:
        return self._labels[key]

    @property
    def day_names(self) -> list[str]:
        return self._labels["days"].split(",")

    def date(self, iso: str) -> str:
        d = date.fromisoformat(iso)
        return d.strftime("%d/%m/%Y") if self.language == "fr" else d.isoformat()

    def number(self, value: float, key: str = "") -> str:
        if key == "attrition_rate":
            text = f"{value * 100:.2f} %" if self.language == "fr" else f"{value * 100:.2f}%"
        elif "cost" in key:
            text = f"{value:,.4f}" if "per_session" in key else f"{value:,.2f}"
        elif float(value).is_integer():
            text = f"{int(value):,}"
        else:
            text = f"{value:,.2f}"
        if self.language == "fr":
            # French: thin no-break space for thousands, comma for decimals.
            text = text.replace(",", "\u202f").replace(".", ",")
        return text

    def change(self, value: float, key: str = "") -> str:
        sign = "+" if value > 0 else ""
        return sign + self.number(value, key) if value else "="

    def week_line(self, content: dict) -> str:
        return self["week"].format(
            iso=content["iso_week"],
            start=self.date(content["week_start"]),
            end=self.date(content["week_end"]),
        )
