import { DuckDBInstance, type DuckDBConnection, type DuckDBResultReader } from '@duckdb/node-api';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';

/** Options for the DuckDB session behind a notebook. */
export interface SessionOptions {
  /** DuckDB `memory_limit`, e.g. '4GB'. Default: DuckDB's own (80% of RAM). */
  memoryLimit?: string;
  /** DuckDB `threads`. Default: the number of cores. */
  threads?: number;
  /** Where DuckDB may spill and keep extensions. Default: `.winlake/duckdb` under the working folder. */
  workDir?: string;
}

/**
 * One DuckDB engine and connection: the notebook session every Frame runs on.
 *
 * @example
 * const s = await Session.create({ memoryLimit: '2GB', threads: 2 });
 * const rows = await s.rows('select 42 as answer');
 */
export class Session {
  private closed = false;

  private constructor(
    readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    readonly options: SessionOptions,
  ) {}

  static async create(options: SessionOptions = {}): Promise<Session> {
    const workDir = path.resolve(options.workDir ?? path.join('.winlake', 'duckdb'));
    mkdirSync(workDir, { recursive: true });
    // Extensions that DuckDB would download (delta, httpfs) cannot be had offline: never try.
    const config: Record<string, string> = {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'true',
      extension_directory: path.join(workDir, 'extensions'),
      temp_directory: path.join(workDir, 'tmp'),
    };
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    if (options.threads) config.threads = String(options.threads);
    const instance = await DuckDBInstance.create(':memory:', config);
    const connection = await instance.connect();
    await connection.run("SET TimeZone = 'UTC'");
    return new Session(instance, connection, options);
  }

  /** Runs a statement and returns the materialised result. */
  async run(sql: string): Promise<DuckDBResultReader> {
    this.assertOpen();
    try {
      return await this.connection.runAndReadAll(sql);
    } catch (err) {
      throw new SqlError(sql, err);
    }
  }

  /** Runs a query and returns its rows as plain JavaScript objects. */
  async rows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const result = await this.run(sql);
    return result.getRowObjectsJS() as unknown as T[];
  }

  /** Runs a query and returns the first column of the first row. */
  async scalar<T = unknown>(sql: string): Promise<T> {
    const result = await this.run(sql);
    const rows = result.getRowsJS();
    return rows[0]?.[0] as T;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection and the engine. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the DuckDB session is closed');
  }
}

/**
 * A SQL statement that DuckDB refused. The message is DuckDB's own text (with its hint, e.g.
 * "Candidate bindings: ..."), which names what the user wrote; the generated statement (every
 * Parquet path of a scan) is kept in `sql` and added to the message only when the `WINLAKE_DEBUG`
 * environment variable is set. Printed (`console.error`, a failed notebook cell) it is that one
 * message, not a stack trace and its cause's again.
 */
export class SqlError extends Error {
  declare readonly sql: string;

  constructor(sql: string, cause: unknown) {
    const engine = cause instanceof Error ? cause.message : String(cause);
    // DuckDB quotes the statement around the error ("LINE 1: SELECT ... ^"): for a Delta scan that
    // is a wall of Parquet paths, so it is kept for debugging only.
    const message = debugging() ? engine : engine.replace(/\n+LINE \d+:[\s\S]*$/, '');
    super(debugging() ? `${message}\n  in SQL: ${sql.length > 2000 ? `${sql.slice(0, 2000)}…` : sql}` : message, { cause });
    this.name = 'SqlError';
    // Not enumerable, so printing the error does not list the statement once more.
    Object.defineProperty(this, 'sql', { value: sql, enumerable: false });
    Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }

  /** DuckDB's message without the SQL text. */
  get engineMessage(): string {
    return this.cause instanceof Error ? this.cause.message : String(this.cause);
  }

  [inspect.custom](): string {
    return debugging() ? (this.stack ?? this.message) : `${this.name}: ${this.message}\n(set WINLAKE_DEBUG=1 to see the generated SQL)`;
  }
}

function debugging(): boolean {
  const v = process.env.WINLAKE_DEBUG;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

let defaultSession: Promise<Session> | undefined;
let defaultOptions: SessionOptions = {};

/**
 * Sets options for the notebook's default session; only before it is first used.
 * @example configureSession({ memoryLimit: '4GB', threads: 2 });
 */
export function configureSession(options: SessionOptions): void {
  if (defaultSession) throw new Error('the session is already running: configureSession must come first');
  defaultOptions = { ...options };
}

/**
 * The notebook's session, created on first use and closed when the process exits.
 * @example const s = await getSession(); await s.rows('select 1');
 */
export function getSession(): Promise<Session> {
  if (!defaultSession) {
    const opts: SessionOptions = { ...defaultOptions };
    if (!opts.memoryLimit && process.env.WINLAKE_MEMORY_LIMIT) opts.memoryLimit = process.env.WINLAKE_MEMORY_LIMIT;
    if (!opts.threads && process.env.WINLAKE_THREADS) opts.threads = Number(process.env.WINLAKE_THREADS);
    defaultSession = Session.create(opts);
    defaultSession.then(
      (s) => process.once('exit', () => s.close()),
      () => {
        defaultSession = undefined;
      },
    );
  }
  return defaultSession;
}

/**
 * Closes the default session (a new one is made on next use).
 * @example await closeSession(); // the next getSession() opens a fresh database
 */
export async function closeSession(): Promise<void> {
  const pending = defaultSession;
  defaultSession = undefined;
  if (pending) (await pending).close();
}
