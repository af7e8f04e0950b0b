-- wallet-transfer.sql - an application's own transaction, in plain SQL:
-- move 25 from wallet w-1 to w-2 and record the event in the outbox
-- (outbox(5), "Rows written by other programs"). Both commit, or neither.
--   sqlite3 wallet.db < examples/wallet-transfer.sql
BEGIN IMMEDIATE;
UPDATE wallets SET balance = balance - 25 WHERE id = 'w-1';
UPDATE wallets SET balance = balance + 25 WHERE id = 'w-2';
INSERT INTO outbox (id, source, type, subject, partition_key, event)
VALUES ('0190f5c3-8a4e-7b21-9c3d-2f1e0a9b8c7d', '/wallet-hub',
  'FundsTransferredEvent', 'w-1', 'w-1',
  json_object('specversion', '1.0',
    'id', '0190f5c3-8a4e-7b21-9c3d-2f1e0a9b8c7d',
    'source', '/wallet-hub', 'type', 'FundsTransferredEvent',
    'subject', 'w-1', 'time', '2026-11-27T09:51:38.123456Z',
    'datacontenttype', 'application/json', 'partitionkey', 'w-1',
    'data', json_object('from', 'w-1', 'to', 'w-2', 'amount', 25)))
ON CONFLICT (source, id) DO NOTHING;
COMMIT;
