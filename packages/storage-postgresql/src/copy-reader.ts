import type pg from "pg";
import copyStreams from "pg-copy-streams";
import { ErrorCodes, MdmError, SqlDate, SqlTimestamp, type ColumnDef, type Value } from "@mdm/storage-core";

/**
 * Rows of a query through `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, decoded here into the value
 * model and handed out `batchSize` rows at a time. The stream is paused while a batch is consumed,
 * so memory stays bounded by the batch. Only for columns whose server type is exactly the one we
 * create (the caller checks, as for binary writes); anything else is read through a cursor.
 */

const DAYS_2000 = 10_957;
const MICROS_2000 = 946_684_800_000_000n;
const DATE_INFINITY = 0x7fffffff;
const DATE_MINUS_INFINITY = -0x80000000;
const TIMESTAMP_INFINITY = 2n ** 63n - 1n;
const TIMESTAMP_MINUS_INFINITY = -(2n ** 63n);

type Decoder = (b: Buffer, at: number, length: number) => Value;

function infinite(what: string): never {
  throw new MdmError(ErrorCodes.UNSUPPORTED_VALUE, `An infinite ${what} has no value in the MDM value model`);
}

/** numeric_send's layout back to numeric_out's text: exactly `dscale` fraction digits. */
function decodeNumeric(b: Buffer, at: number): string {
  const ndigits = b.readInt16BE(at);
  const weight = b.readInt16BE(at + 2);
  const sign = b.readUInt16BE(at + 4);
  const dscale = b.readInt16BE(at + 6);
  if (sign === 0xc000) return "NaN";
  if (sign === 0xd000) return "Infinity";
  if (sign === 0xf000) return "-Infinity";
  const digit = (i: number) => (i >= 0 && i < ndigits ? b.readInt16BE(at + 8 + i * 2) : 0);
  let integer = "";
  for (let i = 0; i <= weight; i++) integer += i === 0 ? String(digit(i)) : String(digit(i)).padStart(4, "0");
  if (integer === "") integer = "0";
  let fraction = "";
  for (let k = 1; fraction.length < dscale; k++) fraction += String(digit(weight + k)).padStart(4, "0");
  const text = dscale > 0 ? `${integer}.${fraction.slice(0, dscale)}` : integer;
  return sign === 0x4000 && /[1-9]/.test(text) ? `-${text}` : text;
}

function decoder(column: ColumnDef): Decoder {
  switch (column.type) {
    case "boolean":
      return (b, at) => b[at] !== 0;
    case "int64":
      return (b, at) => b.readBigInt64BE(at);
    case "float64":
      return (b, at) => b.readDoubleBE(at);
    case "decimal":
      return (b, at) => decodeNumeric(b, at);
    case "blob":
      return (b, at, length) => new Uint8Array(b.subarray(at, at + length));
    case "date":
      return (b, at) => {
        const days = b.readInt32BE(at);
        if (days === DATE_INFINITY || days === DATE_MINUS_INFINITY) infinite("date");
        return new SqlDate(days + DAYS_2000);
      };
    case "timestamp":
    case "timestamptz":
      return (b, at) => {
        const micros = b.readBigInt64BE(at);
        if (micros === TIMESTAMP_INFINITY || micros === TIMESTAMP_MINUS_INFINITY) infinite("timestamp");
        return new SqlTimestamp(micros + MICROS_2000);
      };
    default:
      return (b, at, length) => b.toString("utf8", at, at + length); // text, json
  }
}

/** Whether a whole tuple starting at `at` is in the buffer; its end offset, or -1. */
function tupleEnd(b: Buffer, at: number): number {
  if (b.length - at < 2) return -1;
  const count = b.readInt16BE(at);
  if (count === -1) return at + 2;
  let p = at + 2;
  for (let c = 0; c < count; c++) {
    if (b.length - p < 4) return -1;
    const length = b.readInt32BE(p);
    p += 4;
    if (length > 0) {
      if (b.length - p < length) return -1;
      p += length;
    }
  }
  return p;
}

/** Where decoding stopped: the offset of the first undecoded byte, and whether the trailer was reached. */
interface DecodeState {
  pos: number;
  ended: boolean;
}

/**
 * Decode whole tuples from `state.pos` into `rows` until the batch is full, the buffer holds no whole
 * tuple, or the trailer. A plain function, not part of the generator below: the per-row loop is the
 * read path and stays out of generator frames (see @mdm/storage-core's SqliteRowConverter).
 */
function decodeTuples(buffer: Buffer, state: DecodeState, decoders: Decoder[], rows: Value[][], batchSize: number): void {
  const width = decoders.length;
  let pos = state.pos;
  while (rows.length < batchSize) {
    const end = tupleEnd(buffer, pos);
    if (end < 0) break;
    const count = buffer.readInt16BE(pos);
    if (count === -1) {
      pos = end;
      state.ended = true;
      break;
    }
    if (count !== width) throw new MdmError(ErrorCodes.INTERNAL, `COPY sent ${count} fields for ${width} columns`);
    const row: Value[] = new Array(width);
    let p = pos + 2;
    for (let c = 0; c < width; c++) {
      const length = buffer.readInt32BE(p);
      p += 4;
      if (length < 0) row[c] = null;
      else {
        row[c] = (decoders[c] as Decoder)(buffer, p, length);
        p += length;
      }
    }
    pos = end;
    rows.push(row);
  }
  state.pos = pos;
}

/**
 * Batches of a SELECT read with COPY BINARY. When the consumer stops early the COPY cannot be
 * cancelled cleanly on the connection, so `onAbandon(client)` tells the owner to destroy it.
 */
export async function* copyBinaryBatches(client: pg.PoolClient, select: string, columns: ColumnDef[], batchSize: number, signal: AbortSignal | undefined, onAbandon: (client: pg.PoolClient) => void): AsyncGenerator<Value[][]> {
  const decoders = columns.map(decoder);
  const stream = client.query(copyStreams.to(`COPY (${select}) TO STDOUT (FORMAT binary)`));
  let finished = false;
  let leftover: Buffer | undefined;
  let headerRead = false;
  let rows: Value[][] = [];
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
      while (!state.ended) {
        decodeTuples(buffer, state, decoders, rows, batchSize);
        if (rows.length < batchSize) break;
        if (signal?.aborted) throw new MdmError(ErrorCodes.ABORTED, "The read was aborted");
        yield rows;
        rows = [];
      }
      leftover = buffer.subarray(state.pos);
    }
    finished = true;
    if (rows.length > 0) yield rows;
  } finally {
    if (!finished) {
      stream.destroy();
      onAbandon(client);
    }
  }
}
