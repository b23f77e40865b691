#!/bin/sh
# Creates one database and one login role per service; a role can connect only to its own database.
# Run once by the postgres image (/docker-entrypoint-initdb.d) on an empty data directory, or by
# hand against an external server: PGHOST=... PGUSER=<admin> sh init-databases.sh
# Needs POSTGRES_<SERVICE>_PASSWORD for the four services; DB_PREFIX (default empty) prefixes names.
set -eu
prefix="${DB_PREFIX:-}"
admin="${POSTGRES_USER:-${PGUSER:-postgres}}"
for service in registration matching surveys reporting; do
  var="POSTGRES_$(echo "$service" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  password="$(printenv "$var" || true)"
  if [ -z "$password" ]; then
    echo "init-databases: $var is not set" >&2
    exit 1
  fi
  name="${prefix}${service}"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$admin" --dbname postgres \
       -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
  echo "init-databases: database and role $name created"
done
