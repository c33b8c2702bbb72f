package db

// migrationSMS is schema version 3: messages (outbound queue and inbound
// log), conversations, opt-outs, the forwarding outbox, delivery reports
// that arrived before their message was marked sent, and the assistants'
// webhook secrets.
const migrationSMS = `
CREATE TABLE sms_conversations (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  assistant_number TEXT NOT NULL,
  customer_number TEXT NOT NULL,
  assistant_id TEXT REFERENCES assistants (id) ON DELETE SET NULL,
  message_count INTEGER NOT NULL DEFAULT 0,
  last_message_at {{ts}} NOT NULL,
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE UNIQUE INDEX sms_conversations_pair_key ON sms_conversations (org_id, assistant_number, customer_number);
CREATE INDEX sms_conversations_recent_idx ON sms_conversations (org_id, last_message_at);

CREATE TABLE sms_messages (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  conversation_id TEXT NOT NULL REFERENCES sms_conversations (id) ON DELETE CASCADE,
  direction TEXT NOT NULL,
  assistant_id TEXT REFERENCES assistants (id) ON DELETE SET NULL,
  from_number TEXT NOT NULL,
  to_number TEXT NOT NULL,
  body TEXT NOT NULL,
  media_urls TEXT NOT NULL DEFAULT '[]',
  provider TEXT NOT NULL,
  provider_message_id TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  segments INTEGER NOT NULL DEFAULT 1,
  encoding TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT,
  request_hash TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at {{ts}},
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until {{ts}},
  sent_at {{ts}},
  delivered_at {{ts}},
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE UNIQUE INDEX sms_messages_idempotency_key ON sms_messages (org_id, idempotency_key);
CREATE UNIQUE INDEX sms_messages_inbound_key ON sms_messages (org_id, provider, provider_message_id) WHERE direction = 'inbound';
CREATE INDEX sms_messages_due_idx ON sms_messages (status, next_attempt_at);
CREATE INDEX sms_messages_provider_id_idx ON sms_messages (provider, provider_message_id);
CREATE INDEX sms_messages_conversation_idx ON sms_messages (conversation_id, created_at);
CREATE INDEX sms_messages_org_idx ON sms_messages (org_id, created_at);

CREATE TABLE sms_opt_outs (
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  sender_number TEXT NOT NULL,
  customer_number TEXT NOT NULL,
  keyword TEXT NOT NULL,
  created_at {{ts}} NOT NULL,
  PRIMARY KEY (org_id, sender_number, customer_number)
);

CREATE TABLE sms_forwards (
  id TEXT PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  message_id TEXT NOT NULL REFERENCES sms_messages (id) ON DELETE CASCADE,
  assistant_id TEXT NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  next_attempt_at {{ts}} NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until {{ts}},
  delivered_at {{ts}},
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE INDEX sms_forwards_due_idx ON sms_forwards (status, next_attempt_at);

CREATE TABLE sms_status_reports (
  provider TEXT NOT NULL,
  provider_message_id TEXT NOT NULL,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  created_at {{ts}} NOT NULL,
  PRIMARY KEY (org_id, provider, provider_message_id)
);

CREATE TABLE sms_webhook_secrets (
  assistant_id TEXT PRIMARY KEY REFERENCES assistants (id) ON DELETE CASCADE,
  org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  secret_enc TEXT NOT NULL,
  created_at {{ts}} NOT NULL
);
`
