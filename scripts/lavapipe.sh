#!/usr/bin/env bash
# Prints the path of a Vulkan driver file (ICD) for Mesa's lavapipe — Vulkan on the CPU — so Dawn finds a WebGPU
# adapter on a machine without a GPU and test/unit/ml-webgpu-train.test.ts checks the WebGPU training kernels (CI
# exports it as MODELPRESS_TEST_VULKAN_ICD). Mesa 25 from Debian bookworm-backports: Debian 12's own Mesa 22 lavapipe
# lacks a feature Dawn requires. Unpacked privately under node_modules/.cache/lavapipe (nothing installed system-wide
# but the Vulkan loader and LLVM it links). Exits non-zero when it cannot; the tests then skip.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$PWD/node_modules/.cache/lavapipe
icd=$dir/lvp.json
if [[ ! -s $icd ]]; then
  mkdir -p "$dir/lists/partial" "$dir/debs"
  echo "deb http://deb.debian.org/debian bookworm-backports main" > "$dir/sources.list"
  o=(-qq -oDir::Etc::SourceList="$dir/sources.list" -oDir::Etc::SourceParts=/dev/null -oDir::State::Lists="$dir/lists" -oAPT::Architecture=amd64)
  apt-get "${o[@]}" update >&2
  ver=$(apt-cache "${o[@]}" madison mesa-vulkan-drivers | awk '/backports/ {print $3; exit}')
  [[ -n $ver ]] || { echo "no mesa-vulkan-drivers in bookworm-backports" >&2; exit 1; }
  (cd "$dir/debs" && apt-get "${o[@]}" download "mesa-vulkan-drivers=$ver") >&2
  dpkg -x "$dir"/debs/mesa-vulkan-drivers_*.deb "$dir/root"
  lib=$(find "$dir/root" -name libvulkan_lvp.so | head -1)
  [[ -n $lib ]] || { echo "libvulkan_lvp.so not in the package" >&2; exit 1; }
  printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.4.0"}}\n' "$lib" > "$icd"
fi
echo "$icd"
