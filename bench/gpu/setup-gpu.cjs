// Preloaded (node --require) on a GPU machine: exposes Dawn (DAWN_NODE=path to dawn.node) as navigator.gpu.
const { create, globals } = require(process.env.DAWN_NODE);
Object.assign(globalThis, globals);
globalThis.__gpu = create([]);
if (typeof globalThis.navigator === 'undefined') globalThis.navigator = {};
Object.defineProperty(globalThis.navigator, 'gpu', { value: globalThis.__gpu, configurable: true });
