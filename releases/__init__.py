"""Release management: releases, the definitive software library, readiness, deployment."""
