"""Voice library, licences, consent and preflight."""
