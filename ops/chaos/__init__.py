"""The fault suite: faults injected into running pools, and a ledger that counts the outcome."""
