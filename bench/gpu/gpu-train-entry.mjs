// GPU bundle entry: the WebGPU backend before the GPU training benchmark (see scripts/gpu-bundle.sh).
import './webgpu-first.mjs';
import '../train-gpu.ts';
