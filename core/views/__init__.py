"""Core's pages: accounts, home and administration."""
