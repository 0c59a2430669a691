#!/usr/bin/env bash
# Screenshots of every view, light and dark, at the window's size, with
# the fake shell (dev/fake-tauri.js). Needs chromium (apt-get install
# chromium) and python3. Usage: ui/dev/screenshots.sh [OUT_DIR]
set -euo pipefail
ui="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$ui/dev/screenshots}"
mkdir -p "$out"
port="${PORT:-8765}"
python3 -m http.server --bind 127.0.0.1 --directory "$ui" "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server"' EXIT
sleep 1

shots=(
  "notifications|dev/index.html"
  "notification-opened|dev/index.html?open=latest"
  "chat-list|dev/index.html#chat"
  "chat-thread|dev/index.html?chat=7"
  "chat-pending-offline|dev/index.html?scenario=offline&pending=1&chat=7"
  "settings|dev/index.html#settings"
  "offline|dev/index.html?scenario=offline"
  "signed-out|dev/index.html?scenario=signed_out"
  "not-signed-in-settings|dev/index.html?scenario=not_signed_in#settings"
  "keychain|dev/index.html?scenario=keychain&count=0"
  "empty|dev/index.html?scenario=empty"
  "paused-tenant|dev/index.html?scenario=paused&role=tenant&open=latest"
)
for theme in light dark; do
  flag=()
  [ "$theme" = dark ] && flag=(--force-dark-mode)
  for s in "${shots[@]}"; do
    name="${s%%|*}"
    url="${s#*|}"
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "${flag[@]}" \
      --window-size=420,640 --virtual-time-budget=4000 \
      --screenshot="$out/$name-$theme.png" "http://127.0.0.1:$port/$url" >/dev/null 2>&1
    echo "$out/$name-$theme.png"
  done
done
