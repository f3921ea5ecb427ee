// Keras layer classes tfjs-layers 4.22 lacks, registered for (de)serialization on import. Everything that builds or
// loads Layers models imports this module (model-io.ts, architectures.ts), so models using them round-trip.
export { Subtract, subtract } from './subtract.ts';
export { SpatialDropout2D, spatialDropout2d } from './spatial-dropout-2d.ts';
