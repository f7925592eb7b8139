"""Microsoft 365: sign-in and calendar linking (identity), tokens at rest and their refresh,
the only Graph client, and the linking use cases."""
