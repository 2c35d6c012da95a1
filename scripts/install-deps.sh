#!/usr/bin/env bash
# Installs, from Debian's packages, the servers that eleanor's lab and
# tests start: each program that is missing, and nothing else.
#
#   scripts/install-deps.sh mariadbd redis-server [nginx]
set -euo pipefail

declare -A package=(
	[mariadbd]=mariadb-server
	[mariadb-install-db]=mariadb-server
	[redis-server]=redis-server
	[nginx]=nginx
)

missing=()
for program in "$@"; do
	if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$program" >/dev/null; then
		missing+=("${package[$program]:-$program}")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

# Deduplicate: mariadbd and mariadb-install-db share a package.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The packages' own services are not wanted: eleanor starts private
# servers in folders of its own. policy-rc.d keeps them from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
	$sudo chmod +x /usr/sbin/policy-rc.d
	trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
