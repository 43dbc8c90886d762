/**
 * Reading JSON event files without new dependencies: NDJSON, concatenated pretty-printed JSON
 * (evtx_dump), a top-level JSON array, each optionally gzip-compressed or inside a .tar.gz.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, constants as zlibConstants } from 'node:zlib';

/**
 * Splits a stream of JSON text into its top-level objects, whatever the whitespace between them:
 * one per line (NDJSON), pretty-printed one after another, or the items of a top-level array. An
 * array between objects (an NDJSON line holding `[{...},{...}]` or `[1,2]`) comes out whole.
 *
 * @example
 * const s = new JsonObjectSplitter();
 * s.push('{"a":1}\n{"b"'); s.push(':2}'); // => ['{"a":1}'] then ['{"b":2}']
 */
export class JsonObjectSplitter {
  private text = '';
  private pos = 0;
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** 1 when the objects sit inside a top-level array. */
  private base = -1;
  private consumed = 0;

  /** Feeds text; returns the objects completed by it, as JSON text. */
  push(chunk: string): string[] {
    const out: string[] = [];
    this.text += chunk;
    const t = this.text;
    for (let i = this.pos; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \ */) this.escaped = true;
        else if (c === 34 /* " */) this.inString = false;
        continue;
      }
      if (c === 34) {
        this.inString = true;
      } else if (c === 123 /* { */ || c === 91 /* [ */) {
        if (this.base < 0) this.base = c === 91 ? 1 : 0;
        // An array among NDJSON objects (a line `[{...},{...}]`) is one value, expanded by the reader.
        if (this.depth === this.base && (c === 123 || this.base === 0)) this.start = i;
        this.depth++;
      } else if (c === 125 /* } */ || c === 93 /* ] */) {
        this.depth--;
        if (this.depth < 0) throw new Error(`unbalanced JSON: '${String.fromCharCode(c)}' at offset ${this.consumed + i}`);
        if (this.depth === this.base && this.start >= 0) {
          out.push(t.slice(this.start, i + 1));
          this.start = -1;
        }
      } else if (this.depth === this.base && c > 32 && c !== 44 /* , */) {
        throw new Error(`unexpected ${JSON.stringify(String.fromCharCode(c))} between JSON objects at offset ${this.consumed + i}`);
      }
    }
    // Keep only the unfinished object, so memory stays bounded by the largest object.
    const keepFrom = this.start >= 0 ? this.start : t.length;
    this.consumed += keepFrom;
    this.text = t.slice(keepFrom);
    this.pos = this.text.length;
    if (this.start >= 0) this.start = 0;
    return out;
  }

  /** Call at the end of input; throws if an object was left unfinished. */
  end(): void {
    if (this.start >= 0 || this.inString || this.depth > (this.base > 0 ? this.base : 0)) {
      throw new Error(`the JSON ends inside an object (at offset ${this.consumed + this.text.length}); the file is truncated`);
    }
  }
}

/** One regular file inside a tar archive, streamed. */
interface TarChunk {
  name: string;
  data: Buffer;
  last: boolean;
}

/**
 * A minimal streaming tar reader (ustar, GNU long names, pax `path`): yields the bytes of each
 * regular file in order. Enough for dataset archives; links and devices are skipped.
 * @example for await (const c of tarFiles(createReadStream('x.tar'))) console.log(c.name, c.data.length);
 */
export async function* tarFiles(input: AsyncIterable<Buffer>): AsyncGenerator<TarChunk> {
  let pending: Buffer = Buffer.alloc(0);
  let entry: { name: string; remaining: number; padding: number; regular: boolean; meta: 'pax' | 'longname' | null; metaData: Buffer[] } | undefined;
  let nextName: string | undefined;
  let ended = false;
  for await (const chunk of input) {
    if (ended) continue;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      if (entry) {
        if (entry.remaining > 0) {
          if (pending.length === 0) break;
          const take = Math.min(entry.remaining, pending.length);
          const data = pending.subarray(0, take);
          pending = pending.subarray(take);
          entry.remaining -= take;
          if (entry.meta) entry.metaData.push(data);
          else if (entry.regular) yield { name: entry.name, data, last: entry.remaining === 0 };
          if (entry.remaining > 0) break;
        }
        if (pending.length < entry.padding) {
          entry.padding -= pending.length;
          pending = Buffer.alloc(0);
          break;
        }
        pending = pending.subarray(entry.padding);
        if (entry.meta === 'longname') nextName = cString(Buffer.concat(entry.metaData), 0, Number.MAX_SAFE_INTEGER);
        if (entry.meta === 'pax') nextName = paxPath(Buffer.concat(entry.metaData)) ?? nextName;
        entry = undefined;
      }
      if (pending.length < 512) break;
      const header = pending.subarray(0, 512);
      pending = pending.subarray(512);
      if (header.every((b) => b === 0)) {
        ended = true;
        break;
      }
      const type = String.fromCharCode(header[156]!);
      const magic = header.subarray(257, 262).toString('latin1');
      const prefix = magic === 'ustar' ? cString(header, 345, 155) : '';
      const name = nextName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
      const size = tarSize(header);
      const meta = type === 'x' || type === 'g' ? 'pax' : type === 'L' ? 'longname' : null;
      if (!meta) nextName = undefined;
      entry = { name, remaining: size, padding: (512 - (size % 512)) % 512, regular: type === '0' || type === '\0' || type === '7', meta, metaData: [] };
      if (entry.regular && !meta && size === 0) yield { name, data: Buffer.alloc(0), last: true };
    }
  }
  if (entry && entry.remaining > 0) throw new Error(`the tar archive ends inside ${JSON.stringify(entry.name)} (${entry.remaining} bytes missing)`);
}

function cString(buf: Buffer, offset: number, length: number): string {
  const end = Math.min(buf.length, offset + length);
  let stop = offset;
  while (stop < end && buf[stop] !== 0) stop++;
  return buf.subarray(offset, stop).toString('utf8');
}

function tarSize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if ((field[0]! & 0x80) !== 0) {
    // GNU base-256 for sizes over 8 GiB.
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = cString(field, 0, 12).trim();
  const n = text ? Number.parseInt(text, 8) : 0;
  if (!Number.isFinite(n)) throw new Error(`bad size field in a tar header: ${JSON.stringify(text)}`);
  return n;
}

function paxPath(data: Buffer): string | undefined {
  // Records are "<len> key=value\n".
  const text = data.toString('utf8');
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(' ', i);
    if (space < 0) break;
    const len = Number.parseInt(text.slice(i, space), 10);
    if (!(len > 0)) break;
    const record = text.slice(space + 1, i + len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') return record.slice(eq + 1);
    i += len;
  }
  return undefined;
}

function isTarGz(path: string): boolean {
  return /\.(tar\.gz|tgz)$/i.test(path);
}

function gunzip(path: string): AsyncIterable<Buffer> {
  // Z_SYNC_FLUSH: archives cut short after their last member (common in dataset downloads)
  // still yield everything they hold instead of failing on the missing gzip trailer.
  return createReadStream(path).pipe(createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH }));
}

/** A document read from a file, with where it came from (for error messages). */
export interface SourcedDocument {
  file: string;
  /** The member inside an archive, or undefined. */
  member: string | undefined;
  /** 1-based position of the object within its file or member. */
  index: number;
  value: unknown;
}

/**
 * Every top-level JSON object of a file: `.json`/`.ndjson`/`.jsonl` (NDJSON, concatenated or
 * array), the same gzip-compressed (`.gz`), or each member of a `.tar.gz`/`.tgz`. An array line
 * among NDJSON objects yields one document per item (objects or not: the caller decides).
 *
 * @example
 * for await (const d of readJsonDocuments('mordor/empire_enable_rdp.tar.gz')) console.log(d.value);
 */
export async function* readJsonDocuments(path: string): AsyncGenerator<SourcedDocument> {
  let index = 0;
  for await (const d of readTopLevel(path)) {
    for (const value of Array.isArray(d.value) ? (d.value as unknown[]) : [d.value]) yield { ...d, index: ++index, value };
  }
}

/** The top-level values of a file, arrays among objects whole. */
async function* readTopLevel(path: string): AsyncGenerator<SourcedDocument> {
  if (isTarGz(path)) {
    let member: string | undefined;
    let splitter = new JsonObjectSplitter();
    let decoder = new StringDecoder('utf8');
    let index = 0;
    for await (const c of tarFiles(gunzip(path))) {
      if (c.name !== member) {
        member = c.name;
        splitter = new JsonObjectSplitter();
        decoder = new StringDecoder('utf8');
        index = 0;
      }
      for (const text of splitter.push(decoder.write(c.data))) yield { file: path, member, index: ++index, value: parse(text, path, member, index) };
      if (c.last) {
        for (const text of splitter.push(decoder.end())) yield { file: path, member, index: ++index, value: parse(text, path, member, index) };
        splitter.end();
      }
    }
    return;
  }
  const stream: AsyncIterable<Buffer> = /\.gz$/i.test(path) ? gunzip(path) : createReadStream(path);
  const splitter = new JsonObjectSplitter();
  const decoder = new StringDecoder('utf8');
  let index = 0;
  try {
    for await (const chunk of stream) {
      for (const text of splitter.push(decoder.write(chunk))) yield { file: path, member: undefined, index: ++index, value: parse(text, path, undefined, index) };
    }
    for (const text of splitter.push(decoder.end())) yield { file: path, member: undefined, index: ++index, value: parse(text, path, undefined, index) };
    splitter.end();
  } catch (err) {
    if (err instanceof Error && !err.message.includes(path)) err.message = `${path}: ${err.message}`;
    throw err;
  }
}

function parse(text: string, file: string, member: string | undefined, index: number): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}${member ? `[${member}]` : ''}: object ${index} is not valid JSON: ${(err as Error).message}`);
  }
}
