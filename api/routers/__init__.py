"""HTTP routers: validate, call a service, map to a schema."""
