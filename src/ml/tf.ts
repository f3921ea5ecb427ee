// The single import point for TensorFlow.js: every module imports tf from here (`import { tf } from '../ml/tf.ts'`
// or `import * as tf from '../ml/tf.ts'`), so one tfjs instance (and one backend registry) serves the process.
import * as tf from '@tensorflow/tfjs';

export * from '@tensorflow/tfjs';
export { tf };
