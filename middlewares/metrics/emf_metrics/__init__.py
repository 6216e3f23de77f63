"""The metrics middleware's logic: its settings (`config`) and the EMF document (`document`)."""
