"""Running persisted jobs outside the request path (`passerelle jobs run`)."""
