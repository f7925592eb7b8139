"""The audit log: what touched calendar data, the directory, settings and privacy requests.

- ``chain``: ``record`` (in the caller's transaction) and ``verify`` of each organization's
  hash chain, and the ``Action`` enum;
- ``log``: reading it (filters, keyset pages, CSV export) for the HR admin's page;
- ``refusals``: refused sign-ins that belong to no organization (the operators' record).
"""
from listening.audit.chain import (
    CHAIN_PURPOSE,
    GENESIS,
    Action,
    Origin,
    Verdict,
    canonical,
    chain_hash,
    count,
    keys_of,
    lock_chain,
    next_entry,
    origin,
    purge_details,
    record,
    tip,
    verify,
)

__all__ = ["Action", "Origin", "origin", "record", "verify", "Verdict", "lock_chain", "GENESIS",
           "canonical", "chain_hash", "count", "purge_details", "next_entry", "tip", "keys_of",
           "CHAIN_PURPOSE"]
