// Loaded first so tfjs-backend-webgpu registers (navigator.gpu is set by setup-gpu.cjs, preloaded with --require).
import '@tensorflow/tfjs-backend-webgpu';
