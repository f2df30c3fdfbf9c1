-- The crash-recovery sweeper claims stuck orders with a short lease, so two sweepers (or two
-- overlapping scheduled runs) never act on the same order at once. A lease, not a held row lock:
-- acting on an order means network calls, and no lock may be held across those.
alter table orders add column recovery_lease_until timestamptz;
