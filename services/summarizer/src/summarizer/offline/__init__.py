"""The offline provider: a deterministic analysis in French and English, without any model."""
