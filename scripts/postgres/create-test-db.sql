-- Run once by the postgres image's entrypoint (docker-entrypoint-initdb.d) as the dmarc superuser,
-- in docker-compose.yml and in the jest global setup's containers: the integration tests' database.
-- scripts/infra.sh creates the same database for the local-process PostgreSQL.
CREATE DATABASE dmarc_test OWNER dmarc;
