#!/usr/bin/env bash
# PostgreSQL's server binaries (initdb, pg_ctl, postgres): the tests start a throwaway cluster
# of their own, and several gateway instances share one database.
exec "$(dirname "$0")/apt-install.sh" postgresql sh -c 'ls /usr/lib/postgresql/*/bin/initdb'
