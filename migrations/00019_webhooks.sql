-- +goose Up
-- Webhooks (docs/webhooks.md). An endpoint reads the event log through
-- its own cursor (the last pos handed to it): the fan-out turns each
-- event it subscribes to into one delivery row, and moves the cursor, in
-- one transaction; the event writers never see endpoints. Disabled
-- endpoints keep their cursor: what happened meanwhile is delivered once
-- they are enabled again (while the log still holds it).
CREATE TABLE webhook_endpoints (
    id                    uuid        PRIMARY KEY,
    url                   text        NOT NULL,
    description           text        NOT NULL DEFAULT '',
    -- Empty: every type webhooks carry; else these.
    event_types           text[]      NOT NULL DEFAULT '{}',
    -- Empty: every owner's documents; else these owners' only.
    owners                text[]      NOT NULL DEFAULT '{}',
    secret                text        NOT NULL,
    -- During a rotation the previous secret signs too, until it expires.
    previous_secret       text,
    previous_expires_at   timestamptz,
    cursor                bigint      NOT NULL,
    disabled_at           timestamptz,
    disabled_reason       text,
    -- Since when every attempt failed (NULL: the last one succeeded).
    failing_since         timestamptz,
    -- 429, 502, 504: nothing is sent to it before this.
    paused_until          timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- One message to one endpoint, through its attempts. message_id is the
-- webhook-id header: the same on every attempt and replay.
CREATE TABLE webhook_deliveries (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    message_id      text        NOT NULL,
    type            text        NOT NULL,
    document_id     uuid        NOT NULL,
    owner           text        NOT NULL,
    payload         jsonb       NOT NULL,
    event_at        timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, message_id)
);
-- What is due, per endpoint.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at, id) WHERE status = 'pending';
-- Listing and replaying an endpoint's deliveries by time; pruning.
CREATE INDEX webhook_deliveries_endpoint_created ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
