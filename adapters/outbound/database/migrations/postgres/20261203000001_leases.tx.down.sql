DROP TABLE instances;

--bun:split

DROP TABLE device_leases;
