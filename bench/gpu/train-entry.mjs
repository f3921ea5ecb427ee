// GPU bundle entry: the WebGPU backend before the training benchmark (see scripts/gpu-bundle.sh).
import './webgpu-first.mjs';
import '../train.ts';
