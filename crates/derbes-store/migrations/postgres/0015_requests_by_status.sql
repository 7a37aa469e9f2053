-- derbes schema v15 (PostgreSQL): open requests by status, then due time. The console's Today
-- asks for the requests awaiting approval, first due first; without this index the query walked
-- every open request (by `requests_open_by_due`) to find the few of that status.
CREATE INDEX requests_open_by_status ON requests (status, due_at, id) WHERE open;
