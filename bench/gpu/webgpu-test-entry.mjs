// GPU bundle entry: the WebGPU training program's equivalence tests, run with `node --test` on a GPU machine.
import './webgpu-first.mjs';
import '../../test/unit/ml-webgpu-train.test.ts';
