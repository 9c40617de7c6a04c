import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { ErrorCodes, MdmError, SqlDate, SqlTimestamp, type ColumnDef, type Value } from "@mdm/storage-core";

/**
 * Rows of a query through `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, decoded here into the value
 * model and handed out `batchSize` rows at a time. The stream is paused while a batch is consumed,
 * so memory stays bounded by the batch. Only for columns whose server type is exactly the one we
 * create (the caller checks, as for binary writes); anything else is read through a cursor.
 */

export const DAYS_2000 = 10_957;
export const MICROS_2000 = 946_684_800_000_000n;
export const DATE_INFINITY = 0x7fffffff;
export const DATE_MINUS_INFINITY = -0x80000000;
const TIMESTAMP_INFINITY = 2n ** 63n - 1n;
const TIMESTAMP_MINUS_INFINITY = -(2n ** 63n);

/**
 * One field's value from its bytes. Fixed-size fields are read through a DataView over the buffer:
 * V8's getBigInt64 is a builtin, Buffer's readBigInt64BE builds the BigInt in JS (26 ns against 60 ns).
 */
type Decoder = (b: Buffer, view: DataView, at: number, length: number) => Value;

export function infinite(what: string): never {
  throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `An infinite ${what} has no value in the MDM value model`);
}

/** Four decimal digits of a base-10000 group (zero-padded) after the first one. */
const PAD = ["", "000", "00", "0"];
function group(d: number): string {
  return d >= 1000 ? String(d) : (PAD[d >= 100 ? 3 : d >= 10 ? 2 : 1] as string) + d;
}

/**
 * numeric_send's layout back to numeric_out's text: exactly `dscale` fraction digits. Groups missing
 * from the end (or before the first, when the weight is negative) are zeros. Measured against
 * numeric_out on 200,000 values of PostgreSQL's: 270-370 ns a value, 530-840 ns with padStart and a
 * regular expression per value.
 */
export function decodeNumeric(view: DataView, at: number): string {
  const ndigits = view.getUint16(at);
  const weight = view.getInt16(at + 2);
  const sign = view.getUint16(at + 4);
  const dscale = view.getUint16(at + 6);
  if (sign === 0xc000) return "NaN";
  if (sign === 0xd000) return "Infinity";
  if (sign === 0xf000) return "-Infinity";
  const digit = (i: number) => (i >= 0 && i < ndigits ? view.getUint16(at + 8 + i * 2) : 0);
  let text = "0";
  if (weight >= 0) {
    text = String(digit(0));
    for (let i = 1; i <= weight; i++) text += group(digit(i));
  }
  if (dscale > 0) {
    let fraction = "";
    for (let i = weight + 1; fraction.length < dscale; i++) fraction += group(digit(i));
    text += `.${fraction.length === dscale ? fraction : fraction.slice(0, dscale)}`;
  }
  // numeric_out writes no "-0": a negative sign shows only in front of a non-zero digit.
  return sign === 0x4000 && /[1-9]/.test(text) ? `-${text}` : text;
}

function decoder(column: ColumnDef): Decoder {
  switch (column.type) {
    case "boolean":
      return (b, _view, at) => b[at] !== 0;
    case "int64":
      return (_b, view, at) => view.getBigInt64(at);
    case "float64":
      return (_b, view, at) => view.getFloat64(at);
    case "decimal":
      return (_b, view, at) => decodeNumeric(view, at);
    case "blob":
      return (b, _view, at, length) => new Uint8Array(b.subarray(at, at + length));
    case "date":
      return (_b, view, at) => {
        const days = view.getInt32(at);
        if (days === DATE_INFINITY || days === DATE_MINUS_INFINITY) infinite("date");
        return new SqlDate(days + DAYS_2000);
      };
    case "timestamp":
    case "timestamptz":
      return (_b, view, at) => {
        const micros = view.getBigInt64(at);
        if (micros === TIMESTAMP_INFINITY || micros === TIMESTAMP_MINUS_INFINITY) infinite("timestamp");
        return new SqlTimestamp(micros + MICROS_2000);
      };
    default:
      return (b, _view, at, length) => b.toString("utf8", at, at + length); // text, json
  }
}

/** Where decoding stopped: the offset of the first undecoded byte, and whether the trailer was reached. */
export interface DecodeState {
  pos: number;
  ended: boolean;
}

/** `tupleFields` at the trailer (the field count -1 that ends the data). */
export const TRAILER = -2;

/**
 * Where the fields of the tuple at `pos` begin: -1 when the buffer ends before its field count, TRAILER
 * at the end of the data. A field count other than `width` is an internal error.
 */
export function tupleFields(view: DataView, size: number, pos: number, width: number): number {
  if (size - pos < 2) return -1;
  const count = view.getInt16(pos);
  if (count === -1) return TRAILER;
  if (count !== width) throw new MdmError(ErrorCodes.INTERNAL, `COPY sent ${count} fields for ${width} columns`);
  return pos + 2;
}

/**
 * Decode whole tuples from `state.pos` into `rows` until the batch is full, the buffer holds no whole
 * tuple, or the trailer. Each field's length is checked against the buffer before its value is decoded;
 * a tuple cut off by the end of the buffer is dropped and decoded again from the next buffer. A plain
 * function, not part of the generator below: the per-row loop is the read path and stays out of
 * generator frames (see @mdm/storage-core's SqliteRowConverter).
 */
function decodeTuples(buffer: Buffer, state: DecodeState, decoders: Decoder[], rows: Value[][], batchSize: number): void {
  const width = decoders.length;
  const size = buffer.length;
  const view = new DataView(buffer.buffer, buffer.byteOffset, size);
  let pos = state.pos;
  tuples: while (rows.length < batchSize) {
    let p = tupleFields(view, size, pos, width);
    if (p === TRAILER) {
      pos += 2;
      state.ended = true;
    }
    if (p < 0) break;
    const row: Value[] = new Array(width);
    for (let c = 0; c < width; c++) {
      if (size - p < 4) break tuples;
      const length = buffer.readInt32BE(p);
      p += 4;
      if (length < 0) row[c] = null;
      else {
        if (size - p < length) break tuples;
        row[c] = (decoders[c] as Decoder)(buffer, view, p, length);
        p += length;
      }
    }
    pos = p;
    rows.push(row);
  }
  state.pos = pos;
}

/** What `copyOutChunks` hands its consumer: a buffer of the COPY data and where its first whole tuple may start. */
export interface CopyChunk {
  buffer: Buffer;
  /** The consumer moves `pos` past every tuple it has taken, and sets `ended` on the trailer. */
  state: DecodeState;
}

/**
 * The data of `COPY (select) TO STDOUT (FORMAT binary)`, chunk by chunk: the header skipped, the bytes of
 * a tuple the previous chunk cut off prepended. After the consumer has taken what it can (moving
 * `state.pos`), the rest is kept for the next chunk. The stream is paused while the consumer works. When
 * the consumer stops early the COPY cannot be cancelled cleanly on the connection, so `onAbandon(client)`
 * tells the owner to destroy it.
 */
export async function* copyOutChunks(client: pg.PoolClient, select: string, onAbandon: (client: pg.PoolClient) => void): AsyncGenerator<CopyChunk> {
  const stream = client.query(copyStreams.to(`COPY (${select}) TO STDOUT (FORMAT binary)`));
  let finished = false;
  let leftover: Buffer | undefined;
  let headerRead = false;
  const state: DecodeState = { pos: 0, ended: false };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buffer = leftover && leftover.length > 0 ? Buffer.concat([leftover, chunk]) : chunk;
      state.pos = 0;
      if (!headerRead) {
        if (buffer.length < 19 || buffer.length < 19 + buffer.readInt32BE(15)) {
          leftover = buffer;
          continue;
        }
        state.pos = 19 + buffer.readInt32BE(15);
        headerRead = true;
      }
      if (!state.ended) yield { buffer, state };
      leftover = buffer.subarray(state.pos);
    }
    finished = true;
  } finally {
    if (!finished) {
      stream.destroy();
      onAbandon(client);
    }
  }
}

/** Batches of a SELECT read with COPY BINARY (see copyOutChunks). */
export async function* copyBinaryBatches(client: pg.PoolClient, select: string, columns: ColumnDef[], batchSize: number, signal: AbortSignal | undefined, onAbandon: (client: pg.PoolClient) => void): AsyncGenerator<Value[][]> {
  const decoders = columns.map(decoder);
  let rows: Value[][] = [];
  for await (const { buffer, state } of copyOutChunks(client, select, onAbandon)) {
    while (!state.ended) {
      decodeTuples(buffer, state, decoders, rows, batchSize);
      if (rows.length < batchSize) break;
      if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
      yield rows;
      rows = [];
    }
  }
  if (rows.length > 0) yield rows;
}
