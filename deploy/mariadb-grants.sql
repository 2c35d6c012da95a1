-- The router reads each replica's lag with SHOW REPLICA STATUS, which
-- needs this privilege; without it a replica's lag is unknown and reads
-- stay on the primary while it is up.
GRANT REPLICA MONITOR ON *.* TO 'eleanor'@'%';
