#!/usr/bin/env bash
# apps/imdb/fetch_data.sh: download the official Large Movie Review Dataset (aclImdb_v1.tar.gz,
# 84 MB, 50,000 labelled reviews) from Stanford, where the network allows it.
#
# Usage: apps/imdb/fetch_data.sh [DEST_DIR]
#   DEST_DIR defaults to $LOOM_DATA_DIR, else .cache/data in the repository (git-ignored).
# Prints the archive's path on success; loom reads the .tar.gz directly (no need to extract):
#   imdb train --data DEST_DIR/aclImdb_v1.tar.gz      or   export LOOM_IMDB_DATA=DEST_DIR/aclImdb_v1.tar.gz
# Where there is no network (compute nodes, sandboxes) it says so and exits with status 1:
# download on a login node or another machine and copy the file over.
set -euo pipefail
url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# The MD5 that torchtext and others check for this file; a mismatch is reported, not fatal.
expected_md5="7c2ac02c03563afcf9b574c7e56c153a"
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-${LOOM_DATA_DIR:-$root/.cache/data}}
file="$dest/aclImdb_v1.tar.gz"

if [[ -s "$file" ]]; then
  echo "fetch_data: already present: $file" >&2
  echo "$file"
  exit 0
fi
mkdir -p "$dest"
part="$file.part"
echo "fetch_data: downloading $url" >&2
ok=0
if command -v curl > /dev/null; then
  curl -fL --connect-timeout 20 --retry 2 -o "$part" "$url" && ok=1
elif command -v wget > /dev/null; then
  wget --timeout=20 --tries=2 -O "$part" "$url" && ok=1
else
  echo "fetch_data: neither curl nor wget is installed" >&2
fi
if [[ $ok -ne 1 ]]; then
  rm -f "$part"
  cat >&2 <<MSG
fetch_data: could not download the IMDB dataset (no network access from this machine?).
  Get $url
  on a machine with internet access, copy it here, and pass it with --data PATH
  or export LOOM_IMDB_DATA=PATH. loom reads the .tar.gz as is.
MSG
  exit 1
fi
if ! tar -tzf "$part" 2> /dev/null | grep -q '^aclImdb/train/pos/'; then
  rm -f "$part"
  echo "fetch_data: the download is not the aclImdb archive (a proxy error page?); removed it" >&2
  exit 1
fi
if command -v md5sum > /dev/null; then
  got=$(md5sum "$part" | cut -d' ' -f1)
  [[ "$got" == "$expected_md5" ]] ||
    echo "fetch_data: warning: MD5 $got differs from the expected $expected_md5" >&2
fi
mv "$part" "$file"
echo "fetch_data: saved $file" >&2
echo "$file"
