import onnxProto from 'onnx-proto'

export const {onnx} = onnxProto
export const DataType = onnx.TensorProto.DataType

/** ONNX Runtime's contrib operator domain */
export const MS_DOMAIN = 'com.microsoft'

export type Attr = number | number[] | string | {float: number}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/**
 * A small ONNX graph builder over the onnx-proto message types: initializers as raw little-endian bytes,
 * nodes with generated output names. Only what the exporter needs.
 */
export class GraphBuilder {
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = []
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = []
  private n = 0
  private readonly constCache = new Map<string, string>()

  fresh(prefix: string): string {
    return `${prefix}_${this.n++}`
  }

  /** an initializer from a typed array (Float32Array → FLOAT, Int8Array → INT8, Uint8Array → UINT8, Uint16Array → FLOAT16, BigInt64Array → INT64, Int32Array → INT32) */
  init(name: string, dims: number[], data: Float32Array | Int8Array | Uint8Array | Uint16Array | BigInt64Array | Int32Array): string {
    const dataType =
      data instanceof Float32Array ? DataType.FLOAT
      : data instanceof Int8Array ? DataType.INT8
      : data instanceof Uint8Array ? DataType.UINT8
      : data instanceof Uint16Array ? DataType.FLOAT16
      : data instanceof BigInt64Array ? DataType.INT64
      : DataType.INT32
    const size = dims.reduce((a, b) => a * b, 1)
    if (size !== data.length) throw new Error(`initializer ${name}: dims ${dims} hold ${size} values, got ${data.length}`)
    this.initializers.push(onnx.TensorProto.create({name, dims, dataType, rawData: bytesOf(data)}))
    return name
  }

  /** a small shared constant: int64 vector (shapes, axes) or float scalar */
  int64(values: number[]): string {
    const key = `i64:${values.join(',')}`
    let name = this.constCache.get(key)
    if (!name) {
      name = this.init(this.fresh('const_i64'), [values.length], BigInt64Array.from(values.map(BigInt)))
      this.constCache.set(key, name)
    }
    return name
  }

  float(value: number): string {
    const key = `f32:${value}`
    let name = this.constCache.get(key)
    if (!name) {
      name = this.init(this.fresh('const_f32'), [], Float32Array.of(value))
      this.constCache.set(key, name)
    }
    return name
  }

  /** add a node; returns its output names (`outputs` of them) */
  opN(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1, domain = ''): string[] {
    const outs = Array.from({length: outputs}, () => this.fresh(opType.toLowerCase()))
    const attribute = Object.entries(attrs).map(([name, v]) => {
      const A = onnx.AttributeProto.AttributeType
      if (typeof v === 'number') return onnx.AttributeProto.create({name, type: A.INT, i: v})
      if (Array.isArray(v)) return onnx.AttributeProto.create({name, type: A.INTS, ints: v})
      if (typeof v === 'string') return onnx.AttributeProto.create({name, type: A.STRING, s: new TextEncoder().encode(v)})
      return onnx.AttributeProto.create({name, type: A.FLOAT, f: v.float})
    })
    this.nodes.push(onnx.NodeProto.create({opType, input: inputs, output: outs, name: outs[0], attribute, domain}))
    return outs
  }

  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.opN(opType, inputs, attrs, 1)[0]
  }

  /** rename the last node's output (the graph output must carry its declared name) */
  renameOutput(from: string, to: string): void {
    for (const node of this.nodes) {
      node.output = node.output.map((o) => (o === from ? to : o))
      node.input = node.input.map((i) => (i === from ? to : i))
    }
  }

  model(opts: {inputs: InstanceType<typeof onnx.ValueInfoProto>[]; outputs: InstanceType<typeof onnx.ValueInfoProto>[]; name: string; opset: number; metadata: Record<string, string>; doc?: string}): Uint8Array {
    const graph = onnx.GraphProto.create({name: opts.name, node: this.nodes, initializer: this.initializers, input: opts.inputs, output: opts.outputs})
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'rec',
      producerVersion: '0.1.0',
      docString: opts.doc ?? '',
      // contrib ops (com.microsoft, version 1: ONNX Runtime) when the graph uses any
      opsetImport: [onnx.OperatorSetIdProto.create({domain: '', version: opts.opset}), ...(this.nodes.some((n) => n.domain === MS_DOMAIN) ? [onnx.OperatorSetIdProto.create({domain: MS_DOMAIN, version: 1})] : [])],
      graph,
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => onnx.StringStringEntryProto.create({key, value})),
    })
    return onnx.ModelProto.encode(model).finish()
  }
}

/** a graph input / output declaration: dims are numbers or symbolic names */
export function valueInfo(name: string, elemType: number, dims: Array<number | string>): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({dimValue: d}) : onnx.TensorShapeProto.Dimension.create({dimParam: d}))),
        }),
      }),
    }),
  })
}
