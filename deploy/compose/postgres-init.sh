#!/bin/sh
# One login role and one database per service (architecture.md §2), each role owning only its database. Runs once,
# on the first start of an empty data volume; passwords come from the environment, never from this file.
set -eu
for service in complaints merchants mediation; do
  password_variable="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "$password_variable")"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       --set role="$service" --set password="$password" --set database="odr_$service" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
done
