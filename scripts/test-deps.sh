#!/usr/bin/env bash
# test-deps.sh installs what Porthouse's tests need beyond Go itself, on a
# fresh Debian machine:
#
#   - node's "ws" package, pinned in test/node/package-lock.json, into
#     test/node/node_modules (interoperability tests with a second client);
#   - Debian's chromium package (UI tests driven by chromedp).
#
# It is idempotent: anything already present is left alone. Any failed
# install stops the script with a non-zero exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf 'test-deps: %s\n' "$*" >&2; }
die() { printf 'test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

# as_root runs a command as root: directly when we are root, through sudo
# when it exists, and fails loudly otherwise.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*' (not root and no sudo)"
	fi
}

apt_updated=0
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
	if [ "$apt_updated" -eq 0 ]; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
			|| die "apt-get update failed"
		apt_updated=1
	fi
	log "installing Debian packages: $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
		|| die "apt-get install $* failed"
}

# --- node and the ws package ------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	apt_install nodejs npm
fi

node_dir="$root/test/node"
if [ ! -d "$node_dir/node_modules/ws" ]; then
	log "installing npm package ws into test/node (pinned in package-lock.json)"
	(
		cd "$node_dir"
		if [ -f package-lock.json ]; then
			npm ci --no-audit --no-fund
		else
			npm install --no-audit --no-fund
		fi
	) || die "npm install of ws in test/node failed"
else
	log "ws already installed in test/node/node_modules"
fi
node -e "require('$node_dir/node_modules/ws')" || die "node cannot load ws from $node_dir"

# --- chromium for chromedp UI tests -----------------------------------------
if [ ! -x /usr/bin/chromium ]; then
	apt_install chromium
	[ -x /usr/bin/chromium ] || die "chromium installed but /usr/bin/chromium is missing"
else
	log "chromium already installed at /usr/bin/chromium"
fi

log "done"
