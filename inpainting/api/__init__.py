"""The REST API (`/api/v1/`): jobs, engines, styles, and its OpenAPI schema."""
