#!/usr/bin/env bash
# Installs the system packages the test tiers need (Debian/Ubuntu): redis-server and openssl (integration),
# PostgreSQL, Chromium with fonts, Caddy and nginx (system). `npm test` and .ci/run call it first. Nothing
# missing: it prints nothing. As root it installs what is missing; otherwise it stops at once and names the
# command to run. It also starts the machine's PostgreSQL when it is installed but stopped.
set -euo pipefail

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v openssl >/dev/null || missing+=(openssl)
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
# The browser tests drive Debian's Chromium through playwright-core (no browser download here).
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -d /usr/share/fonts/truetype/liberation ]] || missing+=(fonts-liberation)
# The forward-auth examples run behind Debian's Caddy (forward_auth) and nginx (auth_request).
command -v caddy >/dev/null || missing+=(caddy)
[[ -x /usr/sbin/nginx ]] || missing+=(nginx)

if ((${#missing[@]})); then
  command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-system-deps: the tests need ${missing[*]}; as root run:" >&2
    echo "  $command" >&2
    exit 1
  fi
  echo "install-system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The machine kind starts PostgreSQL at boot (trust auth, database `test`); start it if it has stopped.
if command -v pg_isready >/dev/null && [[ -d /etc/postgresql ]] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-system-deps: PostgreSQL is not running; as root run:" >&2
    echo "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start" >&2
    exit 1
  fi
  echo "install-system-deps: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
