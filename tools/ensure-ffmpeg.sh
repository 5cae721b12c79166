#!/usr/bin/env bash
# Make sure ffmpeg and ffprobe are on PATH. Installs Debian's ffmpeg when running as root with
# apt-get; otherwise stops with a message that says exactly what to install.
set -euo pipefail
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing Debian's ffmpeg (apt-get install ffmpeg)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends ffmpeg >/dev/null
  if command -v ffprobe >/dev/null 2>&1; then
    echo "[setup] installed: $(ffmpeg -version | head -n 1)"
    exit 0
  fi
fi
cat >&2 <<'MSG'
[setup] ffmpeg and ffprobe are required but not on PATH, and this script cannot install them
(it installs Debian's package only when run as root with apt-get). Install them with one of:
  sudo apt-get install ffmpeg          # Debian / Ubuntu
  conda install -c conda-forge ffmpeg  # conda (see envs/eao.yaml)
  brew install ffmpeg                  # macOS
then run the command again.
MSG
exit 1
