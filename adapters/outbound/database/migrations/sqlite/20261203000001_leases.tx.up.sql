-- One owner per device session among the gateway's instances (domain/cluster): a lease
-- with an expiry and a fencing generation that grows with each claim. instances lists
-- the running gateways, for spreading sessions evenly.
CREATE TABLE device_leases (
    device_id  text        PRIMARY KEY,
    owner      text        NOT NULL,
    generation INTEGER     NOT NULL,
    expires_at TIMESTAMP   NOT NULL
);

--bun:split

CREATE TABLE instances (
    id         text        PRIMARY KEY,
    address    text        NOT NULL,
    expires_at TIMESTAMP   NOT NULL
);
