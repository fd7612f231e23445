"""The built-in page: static HTML, CSS and JavaScript served by the API itself (no build step)."""
