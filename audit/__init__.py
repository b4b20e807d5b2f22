"""Who changed what and why: one append-only row per admin or service change."""
