"""The offline assistant answers from the gym's own information only, and says what it can't."""

from jarvis_common.events.catalogue import KioskConfig
from session_gateway.offline_assistant import answer, wrap_up

GYM_INFO = {
    "opening_hours": "lun-ven 6h-23h, sam-dim 8h-20h",
    "prices": {"mensuel": "29,90 €", "annuel": "299 €"},
    "classes": ["Yoga mardi 19h", "Spinning jeudi 18h"],
    "contact": "01 23 45 67 89",
}
FR = KioskConfig(language="fr", gym_name="Fit Lyon", gym_info=GYM_INFO)
EN = KioskConfig(language="en", gym_name="Fit Lyon", gym_info=GYM_INFO)


def test_it_answers_from_the_gym_information_in_french() -> None:
    assert "lun-ven 6h-23h" in answer(FR, "Quels sont vos horaires d'ouverture ?")
    tarifs = answer(FR, "Combien coûte l'abonnement ?")
    assert "29,90 €" in tarifs and "299 €" in tarifs and tarifs.startswith("Tarifs")
    assert "Yoga mardi 19h" in answer(FR, "Quels cours proposez-vous ?")
    assert "01 23 45 67 89" in answer(FR, "Comment vous joindre par téléphone ?")


def test_it_answers_in_english_for_an_english_gym() -> None:
    reply = answer(EN, "What are your opening hours?")
    assert reply.startswith("Opening hours at Fit Lyon:") and "6h-23h" in reply
    assert "Spinning" in answer(EN, "Which classes do you have?")


def test_it_says_plainly_what_it_cannot_answer() -> None:
    unknown = answer(FR, "Quel temps fera-t-il demain ?")
    assert unknown.startswith("Je ne peux pas répondre")
    assert "horaires" in unknown and "l'accueil" in unknown
    assert answer(EN, "Who won the match?").startswith("I can't answer that")
    missing = answer(FR, "Quelle est votre adresse ?")
    assert missing.startswith("Je n'ai pas cette information (adresse)")
    bare = KioskConfig(language="en")
    assert answer(bare, "opening hours?").startswith("I don't have that information")


def test_greetings_wrap_up_and_determinism() -> None:
    assert answer(FR, "Bonjour !").startswith("Bonjour et bienvenue à Fit Lyon")
    assert "Fit Lyon" in wrap_up(FR) and wrap_up(EN).startswith("Our time is up")
    assert answer(FR, "horaires et prix ?") == answer(FR, "horaires et prix ?")
