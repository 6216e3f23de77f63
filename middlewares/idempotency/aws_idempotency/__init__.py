"""The idempotency middleware's logic: key expressions, records, and the two stores."""
