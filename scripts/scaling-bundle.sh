#!/usr/bin/env bash
# Prepares .gpu/cpu (git-ignored) for measuring data-parallel training's thread scaling (bench/train-vs-pytorch.ts)
# on a many-core machine that has no Node.js, no node_modules and no network (the GPU machine's 16 CPU cores; see
# scripts/gpu-bundle.sh for the Node binary and MNIST it reuses): the bench and the replica thread as bundles, the
# wasm binaries, the native BLAS addon built here with OpenBLAS and its libraries. Then, on that machine:
#   mkdir -p /tmp/p /tmp/mn /tmp/ob; xz -dc .gpu/node.xz >/tmp/p/node; chmod +x /tmp/p/node
#   for f in .gpu/mnist/*.gz; do gunzip -c $f >/tmp/mn/$(basename $f .gz); done; tar -xJf .gpu/cpu/ob.tar.xz -C /tmp/ob
#   export MNIST_DATA_DIR=/tmp/mn LD_LIBRARY_PATH=/tmp/ob MODELPRESS_OPENBLAS_LIBRARY=/tmp/ob/libopenblas.so.0 MODELPRESS_NATIVE_DIR=$PWD/.gpu/cpu/nc
#   /tmp/p/node .gpu/cpu/b/k/tvp.mjs --threads 1,2,4,8 --python python3
set -euo pipefail
cd "$(dirname "$0")/.."
ex=$(git rev-parse --git-common-dir)/info/exclude; grep -qx "/.gpu/" "$ex" 2>/dev/null || echo /.gpu/ >> "$ex"
out=.gpu/cpu
rm -rf "$out" && mkdir -p "$out/b/k" "$out/native" "$out/nc" "$out/node_modules/@tensorflow/tfjs-backend-wasm/dist"
bundle() {
  npx esbuild "$1" --bundle --platform=node --format=esm --ignore-annotations --external:'*.node' --log-level=warning \
    "--banner:js=import { createRequire as __cr } from 'module'; import { fileURLToPath as __fu } from 'url'; import { dirname as __dn } from 'path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);" \
    --outfile="$2"
}
# The bench starts replica threads from the file beside it (src/ts-thread.ts), and looks for blas.c two levels up.
bundle bench/train-vs-pytorch.ts "$out/b/k/tvp.mjs"
bundle src/ml/parallel/replica-worker.ts "$out/b/k/replica-worker.mjs"
cp bench/torch_train.py "$out/b/k/"
cp src/native/blas.c "$out/native/"
# A stand-in package for require.resolve('@tensorflow/tfjs-backend-wasm'): the loader only needs the .wasm beside it.
w=node_modules/@tensorflow/tfjs-backend-wasm
echo '{"name":"@tensorflow/tfjs-backend-wasm","main":"dist/tf-backend-wasm.node.js"}' > "$out/$w/package.json"
: > "$out/$w/dist/tf-backend-wasm.node.js"
cp $w/dist/*.wasm "$out/$w/dist/"
MODELPRESS_NATIVE_DIR=$PWD/$out/nc node --import tsx src/native/build.ts
lib=$(readlink -f /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0)
mkdir -p /tmp/ob-pack && cp "$lib" /tmp/ob-pack/libopenblas.so.0 && cp -L /lib/x86_64-linux-gnu/libgfortran.so.5 /lib/x86_64-linux-gnu/libquadmath.so.0 /tmp/ob-pack/
tar -cJf "$out/ob.tar.xz" -C /tmp/ob-pack . && rm -rf /tmp/ob-pack
du -sh "$out"
