"""The deployment engine: state in the database, moved by one transition function, advanced by
an idempotent `advance(deployment_id)` after each commit and by a periodic reconciler."""
