"""summarizer: Turns every closed session into one conversation summary."""
