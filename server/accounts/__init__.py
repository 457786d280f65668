"""Accounts: users, merchants (platform sub-accounts), staff roles, login and tenancy guards."""
