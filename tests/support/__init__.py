"""Test support: real services (PostgreSQL, Redis, moto's S3 server), a real API server and a real
Celery worker process, wired together as a `Stack`."""
