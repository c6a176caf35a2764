#!/usr/bin/env bash
# Installs what the anchor measurements need, from Debian's packages (and Python's
# `requests`); the actix anchor is built by cargo, from crates.io.
set -euo pipefail
missing=()
for pair in nginx:nginx-light go:golang-go curl:curl strace:strace python3:python3; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
python3 -c 'import requests' 2>/dev/null || python3 -m pip install --quiet requests
