// The ONNX protobuf (onnx-proto's protobufjs classes) and what the importer reads from it: tensors (inline or in an
// external data file, any numeric type, as float32 or int arrays), node attributes, and value shapes.
import onnxProto from 'onnx-proto';
import { AppError } from '../../errors.ts';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
/** protobufjs decodes int64 fields as Long objects (typed loosely by onnx-proto). */
type Int64 = number | { toNumber(): number };
type DataTypeValue = onnxProto.onnx.TensorProto.DataType;

export const DataType = onnx.TensorProto.DataType;

/** int64 fields decode as Long objects: to plain numbers (ONNX dims and ints fit in 2^53). */
export const toNumber = (v: unknown): number => {
  const x = v as Int64 | null | undefined;
  return x === null || x === undefined ? 0 : typeof x === 'number' ? x : x.toNumber();
};

/** A constant tensor: float data as Float32Array, integer/bool data as Float64Array (exact for ONNX shapes/indices). */
export interface Const {
  kind: 'const';
  shape: number[];
  data: Float32Array | Float64Array;
  int: boolean;
}

export const constOf = (data: Float32Array | Float64Array, shape: number[], int = data instanceof Float64Array): Const => ({
  kind: 'const',
  shape,
  data,
  int,
});

/** Reads external data (the `location` of a tensor's external_data) from a file uploaded with the model. */
export type ExternalData = (location: string, offset: number, length: number | null) => Buffer;

function readRaw(raw: Uint8Array, dataType: DataTypeValue, count: number, name: string): Float32Array | Float64Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const need = (bytes: number) => {
    if (raw.byteLength < count * bytes) throw new AppError('INVALID_MODEL', `tensor ${name}: ${raw.byteLength} bytes of data for ${count} elements`);
  };
  switch (dataType) {
    case DataType.FLOAT: {
      need(4);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case DataType.DOUBLE: {
      need(8);
      return Float32Array.from({ length: count }, (_, i) => view.getFloat64(i * 8, true));
    }
    case DataType.FLOAT16: {
      need(2);
      return Float32Array.from({ length: count }, (_, i) => halfToFloat(view.getUint16(i * 2, true)));
    }
    case DataType.INT64: {
      need(8);
      return Float64Array.from({ length: count }, (_, i) => Number(view.getBigInt64(i * 8, true)));
    }
    case DataType.INT32:
      need(4);
      return Float64Array.from({ length: count }, (_, i) => view.getInt32(i * 4, true));
    case DataType.INT16:
      need(2);
      return Float64Array.from({ length: count }, (_, i) => view.getInt16(i * 2, true));
    case DataType.UINT16:
      need(2);
      return Float64Array.from({ length: count }, (_, i) => view.getUint16(i * 2, true));
    case DataType.INT8:
      need(1);
      return Float64Array.from({ length: count }, (_, i) => view.getInt8(i));
    case DataType.UINT8:
    case DataType.BOOL:
      need(1);
      return Float64Array.from({ length: count }, (_, i) => view.getUint8(i));
    default:
      throw new AppError('UNSUPPORTED_OPERATOR', `tensor ${name} has data type ${DataType[dataType] ?? dataType}, which cannot be converted`, {
        operators: [{ op: `tensor of ${DataType[dataType] ?? dataType}`, node: name }],
      });
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16]);

/** A TensorProto's values (inline typed fields, raw_data, or external data). */
export function readTensor(t: TensorProto, external: ExternalData | null): Const {
  const name = t.name ?? '(unnamed)';
  const shape = (t.dims ?? []).map(toNumber);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataType: DataTypeValue = t.dataType ?? DataType.FLOAT;
  const int = !FLOAT_TYPES.has(dataType);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const entries = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = entries.get('location');
    if (!location) throw new AppError('INVALID_MODEL', `tensor ${name} says its data is external but names no location`);
    if (!external)
      throw new AppError('MISSING_WEIGHTS', `tensor ${name} is stored in ${location}: upload that file with the model`, { path: location });
    const offset = Number(entries.get('offset') ?? 0);
    const length = entries.has('length') ? Number(entries.get('length')) : null;
    return constOf(readRaw(external(location, offset, length), dataType, count, name), shape, int);
  }
  if (t.rawData && t.rawData.length > 0) return constOf(readRaw(t.rawData, dataType, count, name), shape, int);
  let values: ArrayLike<number>;
  if (dataType === DataType.FLOAT && t.floatData?.length) values = t.floatData;
  else if (dataType === DataType.DOUBLE && t.doubleData?.length) values = t.doubleData;
  else if (dataType === DataType.INT64 && t.int64Data?.length) values = t.int64Data.map(toNumber);
  else if (t.int32Data?.length) values = dataType === DataType.FLOAT16 ? t.int32Data.map(halfToFloat) : t.int32Data;
  else values = [];
  if (values.length !== count) throw new AppError('INVALID_MODEL', `tensor ${name}: ${values.length} values for shape [${shape}]`);
  return constOf(int ? Float64Array.from(values) : Float32Array.from(values), shape, int);
}

export type AttrValue = number | number[] | string | Const;

/** A node's attributes by name (ints and floats as numbers, tensors as constants). */
export function attributes(node: NodeProto, external: ExternalData | null): Map<string, AttrValue> {
  const out = new Map<string, AttrValue>();
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    switch (a.type) {
      case onnx.AttributeProto.AttributeType.INT:
        out.set(name, toNumber(a.i));
        break;
      case onnx.AttributeProto.AttributeType.FLOAT:
        out.set(name, a.f ?? 0);
        break;
      case onnx.AttributeProto.AttributeType.INTS:
        out.set(name, (a.ints ?? []).map(toNumber));
        break;
      case onnx.AttributeProto.AttributeType.FLOATS:
        out.set(name, a.floats ?? []);
        break;
      case onnx.AttributeProto.AttributeType.STRING:
        out.set(name, Buffer.from(a.s ?? new Uint8Array()).toString('utf8'));
        break;
      case onnx.AttributeProto.AttributeType.TENSOR:
        if (a.t) out.set(name, readTensor(a.t, external));
        break;
      default:
        break; // graphs, sparse tensors…: no supported op reads them
    }
  }
  return out;
}

/** The static shape of a graph value (dim_param / unknown dims → null). */
export function valueShape(v: onnxProto.onnx.IValueInfoProto): (number | null)[] | null {
  const dims = v.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  return dims.map((d) => (d.dimValue !== null && d.dimValue !== undefined && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : null));
}

export function decodeModel(buf: Uint8Array, label: string): ModelProto {
  try {
    const model = onnx.ModelProto.decode(buf);
    if (!model.graph) throw new Error('no graph');
    return model;
  } catch (err) {
    throw new AppError('INVALID_MODEL', `${label} is not an ONNX model: ${(err as Error).message}`);
  }
}
