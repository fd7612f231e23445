"""Bearer-token authentication: JWKS (Auth0, Supabase), a shared HS256 secret, or the local issuer."""
