#!/usr/bin/env bash
# Chaos Toolkit probe: reads a product through the lab's front door and
# succeeds (exit 0) only on a 200. The product is created once, while the
# steady state is checked, and its id kept in the lab's folder; creating
# it again is harmless, since products are idempotent by name.
set -euo pipefail
url=${ELEANOR_URL:-http://127.0.0.1:8080}
dir=${ELEANOR_LAB_DIR:-.lab}
idfile="$dir/chaostoolkit-product-id"

if [ ! -s "$idfile" ]; then
	curl -sf -X POST -H 'Content-Type: application/json' \
		-d '{"product_name": "chaos toolkit probe", "product_type": "probe", "price": "1.00"}' \
		"$url/api/product" |
		sed -n 's/.*"product_id":"\([0-9a-f]*\)".*/\1/p' >"$idfile"
fi
curl -sf -o /dev/null --max-time 5 "$url/api/product/$(cat "$idfile")"
