// The ONNX op table: one handler per op type (like onnx2keras / tfjs-converter). The importer refuses a graph
// whose op types are not all here, naming every one; README's supported-op table is this list.
import type { OpContext } from '../context.ts';
import { Clip, LeakyRelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh } from './activation.ts';
import { Add, Div, Mul, Sub } from './arith.ts';
import { Conv, ConvTranspose } from './conv.ts';
import { Gemm, MatMul } from './gemm.ts';
import { Cast, Constant, ConstantOfShape, Dropout, Gather, Identity, Shape, Slice } from './misc.ts';
import { BatchNormalization } from './normalization.ts';
import { AveragePool, GlobalAveragePool, GlobalMaxPool, MaxPool } from './pool.ts';
import { Concat, Flatten, Pad, Reshape, Squeeze, Transpose, Unsqueeze } from './shape.ts';

export type OpHandler = (ctx: OpContext) => void;

export const OP_HANDLERS: Record<string, OpHandler> = {
  Gemm,
  MatMul,
  Add,
  Sub,
  Mul,
  Div,
  Conv,
  ConvTranspose,
  BatchNormalization,
  Relu,
  LeakyRelu,
  Clip,
  Sigmoid,
  Tanh,
  Softmax,
  LogSoftmax,
  MaxPool,
  AveragePool,
  GlobalAveragePool,
  GlobalMaxPool,
  Flatten,
  Reshape,
  Transpose,
  Concat,
  Pad,
  Dropout,
  Identity,
  Constant,
  Shape,
  Gather,
  Unsqueeze,
  Squeeze,
  Cast,
  Slice,
  ConstantOfShape,
};
