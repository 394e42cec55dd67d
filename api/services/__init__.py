"""Services: the work behind the API and the CLI (routers stay thin and call these)."""
