"""The HTTP API: dependencies (:mod:`.deps`) and the versioned routers (:mod:`.v1`)."""
