#!/usr/bin/env bash
# Generates every icon Tauri needs from icons/source.svg: RGBA PNGs, icon.ico, icon.icns.
# Needs Debian's librsvg2-bin (rsvg-convert), imagemagick (the real /usr/bin/convert) and
# icnsutils (png2icns).
set -euo pipefail
cd "$(dirname "$0")"
convert=/usr/bin/convert
render() {
  rsvg-convert -w "$1" -h "$1" source.svg -o "$2.tmp.png"
  "$convert" "$2.tmp.png" "PNG32:$2"
  rm -f "$2.tmp.png"
}
render 32 32x32.png
render 128 128x128.png
render 256 128x128@2x.png
render 512 icon.png
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in 16 24 32 48 64 256; do render "$s" "$tmp/$s.png"; done
"$convert" "$tmp"/16.png "$tmp"/24.png "$tmp"/32.png "$tmp"/48.png "$tmp"/64.png "$tmp"/256.png icon.ico
for s in 16 32 128 256 512; do render "$s" "$tmp/icns-$s.png"; done
png2icns icon.icns "$tmp"/icns-16.png "$tmp"/icns-32.png "$tmp"/icns-128.png "$tmp"/icns-256.png "$tmp"/icns-512.png >/dev/null
echo "icons written: $(ls *.png *.ico *.icns | tr '\n' ' ')"
