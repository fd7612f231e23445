"""Share links: public, expiring, revocable before/after views of one photo's result."""
