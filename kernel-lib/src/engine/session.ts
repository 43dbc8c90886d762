import './allocator.js'; // before the engine loads
import { DuckDBInstance, StatementType, type DuckDBConnection, type DuckDBResultReader } from '@duckdb/node-api';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { quoteString } from './quote.js';
import { isWithin, realPath } from './real-path.js';

/** Options for the DuckDB session behind a notebook. */
export interface SessionOptions {
  /** DuckDB `memory_limit`, e.g. '4GB'. Default: DuckDB's own (80% of RAM). */
  memoryLimit?: string;
  /** DuckDB `threads`. Default: the number of cores. */
  threads?: number;
  /** Where DuckDB may spill and keep extensions. Default: `.winlake/duckdb` under the working folder. */
  workDir?: string;
  /**
   * Folders the engine may read and write besides its work folder. Default: the lakehouse root
   * ({@link defaultLakehouseRoot}) and the folders of `WINLAKE_ALLOWED_DIRS` (a path list).
   */
  allowedDirectories?: readonly string[];
  /** Single files the engine may read besides those folders. */
  allowedPaths?: readonly string[];
  /**
   * `false` leaves the engine unconfined: any file, `INSTALL`, `SET`. Only for trusted scripts that
   * need it; default `true` (see {@link Session.create}).
   */
  sandbox?: boolean;
}

/**
 * The lakehouse root when none is given: `WINLAKE_HOME`, else `./lakehouse`.
 * @example defaultLakehouseRoot() // => '/home/me/project/lakehouse'
 */
export function defaultLakehouseRoot(): string {
  return path.resolve(process.env.WINLAKE_HOME ?? 'lakehouse');
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

  /** Connections opened by {@link Session.sibling}, closed with this session. */
  private readonly siblings = new Set<Session>();
  /** The holds of {@link holdOneThread} in progress on this instance, and the thread count before them. */
  private oneThreadHold: { holders: number; threads: Promise<number> } | undefined;
  /** Settles when the thread count of the last {@link holdOneThread} hold has been restored. */
  private restoredThreads: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    readonly options: SessionOptions,
    /** This session's own temp folder, inside the sandbox: put files for DuckDB to read here. */
    readonly scratchDir: string,
    /** The folders the engine may read and write (real paths); empty when unconfined. */
    readonly allowedDirectories: readonly string[],
    /** The session this one is a sibling of: it owns the engine and the scratch folder. */
    private readonly owner?: Session,
  ) {}

  /**
   * A second connection to the same engine, for work that runs beside this session's queries:
   * the Kafka stream parses batch N+1 on one while batch N is written. It shares the engine's
   * settings, sandbox, scratch folder and tables, except temporary tables, which are each
   * connection's own. Closing it closes only its connection; closing this session closes it too.
   *
   * @example
   * const side = await session.sibling();
   * await side.run('CREATE TABLE main.next_batch AS SELECT 42 AS answer');
   * await session.rows('SELECT * FROM main.next_batch');
   * side.close();
   */
  async sibling(): Promise<Session> {
    this.assertOpen();
    const root = this.owner ?? this;
    const s = new Session(this.instance, await this.instance.connect(), this.options, this.scratchDir, this.allowedDirectories, root);
    root.siblings.add(s);
    return s;
  }

  /**
   * Opens an engine. Once set up it is sandboxed (unless `sandbox: false`): DuckDB's
   * `enable_external_access = false` with `allowed_directories` = the lakehouse root, the work
   * folder's spill and scratch folders ({@link Session.scratchDir}) and `options.allowedDirectories`; extensions are
   * neither installed nor auto-loaded; and no statement that changes the engine (`SET`, `RESET`,
   * `PRAGMA`, `INSTALL`/`LOAD`, `ATTACH`/`DETACH`, `CALL`, `EXPORT`, `UPDATE EXTENSIONS`,
   * `PREPARE`/`EXECUTE`) runs
   * through {@link Session.run}: DuckDB's own parser tells each statement's type, and such a
   * statement is refused before anything runs. The settings that only tune the engine (threads,
   * memory) are changed with {@link Session.set}. DuckDB's `lock_configuration` would refuse those
   * too, and winlake needs them: a small write runs on one thread ({@link Session.withOneThread}).
   * DuckDB itself refuses to turn external access back on or to widen `allowed_directories`.
   */
  static async create(options: SessionOptions = {}): Promise<Session> {
    const workDir = path.resolve(options.workDir ?? path.join('.winlake', 'duckdb'));
    mkdirSync(path.join(workDir, 'scratch'), { recursive: true });
    const scratchDir = mkdtempSync(path.join(workDir, 'scratch', `${process.pid}-`));
    const sandbox = options.sandbox !== false;
    // DuckDB compares real paths (it resolves symlinks of the files it opens), so the roots are too.
    // Not the whole work folder: its extensions folder stays out of reach.
    const own = [path.join(workDir, 'tmp'), path.join(workDir, 'scratch')];
    const allowed = sandbox ? [...new Set([...own, ...sandboxRoots(options)].map(realPath))] : [];
    // INSTALL downloads whenever the extensions folder is writable, even with external access off:
    // when an allowed folder holds it, point DuckDB at a folder that none holds.
    let extensionDir = path.join(workDir, 'extensions');
    if (allowed.some((d) => isWithin(d, realPath(extensionDir)))) extensionDir = path.join(path.parse(workDir).root, '.winlake-no-extensions');
    // Extensions that DuckDB would download (delta, httpfs) cannot be had offline: never try. The
    // ones winlake uses (json, parquet, icu) are built in.
    const config: Record<string, string> = {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: sandbox ? 'false' : 'true',
      extension_directory: extensionDir,
      temp_directory: path.join(workDir, 'tmp'),
      // jemalloc's background threads give freed memory back (the decay of allocator.ts) instead
      // of the query threads doing it as they allocate. Measured on 2 cores: the 1M-event ingest
      // 41.1-42.7k events/s against 39.3-41.8k (runs alternating; 3.1M page faults against 4.2M,
      // peak RSS 0.86-0.89 against 0.83-0.85 GB), and `npm run bench -- silver` at 500k: plain
      // DuckDB 5.08 against 5.69 s, buildSilver 6.85 against 7.53 s.
      allocator_background_threads: 'true',
    };
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    if (options.threads) config.threads = String(options.threads);
    const instance = await DuckDBInstance.create(':memory:', config);
    const connection = await instance.connect();
    await connection.run("SET TimeZone = 'UTC'");
    if (sandbox) {
      const files = (options.allowedPaths ?? []).map((p) => realPath(path.resolve(p)));
      // Order matters: DuckDB takes the lists only while external access is on, and the lock last.
      await connection.run(`SET allowed_directories = [${allowed.map((d) => quoteString(`${d}${path.sep}`)).join(', ')}]`);
      if (files.length > 0) await connection.run(`SET allowed_paths = [${files.map(quoteString).join(', ')}]`);
      await connection.run('SET enable_external_access = false');
    }
    return new Session(instance, connection, options, scratchDir, allowed);
  }

  /** Whether statements that change the engine are refused (see {@link Session.create}). */
  get statementsGated(): boolean {
    return this.allowedDirectories.length > 0;
  }

  /**
   * A fresh folder under {@link Session.scratchDir} for files DuckDB must read (NDJSON chunks,
   * Kafka batches); the caller removes it. The sandbox lets DuckDB read it, and nothing else new.
   * @example const dir = session.scratch('winlake-load-'); try { ... } finally { rmSync(dir, { recursive: true, force: true }); }
   */
  scratch(prefix: string): string {
    mkdirSync(this.scratchDir, { recursive: true });
    return mkdtempSync(path.join(this.scratchDir, prefix));
  }

  /**
   * Changes one of the engine settings that only tune it ({@link TUNING_SETTINGS}: threads, memory
   * limit, insertion order, caches); any other name is refused, so a sandboxed session stays one.
   * @example await session.set('memory_limit', '4GB');
   */
  async set(name: string, value: string | number | boolean): Promise<void> {
    this.assertOpen();
    const setting = name.toLowerCase();
    if (!TUNING_SETTINGS.includes(setting)) {
      throw new Error(`session.set: ${JSON.stringify(name)} is not an engine setting winlake lets SQL change (these are: ${TUNING_SETTINGS.join(', ')})`);
    }
    const literal = typeof value === 'string' ? quoteString(value) : String(value);
    try {
      await this.connection.run(`SET ${setting} = ${literal}`);
    } catch (err) {
      throw new SqlError(`SET ${setting} = ${literal}`, err, this.allowedDirectories);
    }
  }

  /**
   * Runs `fn` with DuckDB on one thread. A write of at most one row group cannot be split between
   * threads, and measured on 20k-row appends the idle second thread only spun on a lock: one thread
   * took half the CPU. `threads` is a setting of the whole instance (siblings included): calls that
   * overlap share one hold, and the thread count is restored when the last one ends, also on failure.
   * Each change of `threads` also makes DuckDB flush its allocator (freed memory goes back to the
   * system, and is faulted in again by the next query), so a long run of small writes is better
   * wrapped whole.
   *
   * @example
   * await session.withOneThread(() => session.run(`COPY small TO 'small.parquet'`));
   */
  async withOneThread<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.holdOneThread();
    let failed = true;
    try {
      const result = await fn();
      failed = false;
      return result;
    } finally {
      // A failure of fn is the one to report, not one of restoring the thread count after it.
      await (failed ? release().catch(() => undefined) : release());
    }
  }

  /**
   * Puts DuckDB on one thread until the returned function is called, as {@link withOneThread}
   * does for a callback: for a stretch of work that is not one call.
   *
   * @example
   * const release = await session.holdOneThread();
   * try { await writeBatches(); } finally { await release(); }
   */
  async holdOneThread(): Promise<() => Promise<void>> {
    const root = this.owner ?? this;
    const hold = (root.oneThreadHold ??= { holders: 0, threads: root.restoredThreads.then(() => root.toOneThread()) });
    hold.holders++;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      if (--hold.holders > 0) return;
      root.oneThreadHold = undefined;
      const restore = hold.threads.then((threads) => (threads > 1 ? root.set('threads', threads) : undefined));
      root.restoredThreads = restore.catch(() => undefined);
      await restore;
    };
    try {
      await hold.threads;
    } catch (err) {
      await release().catch(() => undefined);
      throw err;
    }
    return release;
  }

  /** Sets `threads` to 1 and returns what it was. */
  private async toOneThread(): Promise<number> {
    const threads = Number(await this.scalar("SELECT current_setting('threads')"));
    if (threads > 1) await this.set('threads', 1);
    return threads;
  }

  /** Runs a statement and returns the materialised result. */
  async run(sql: string): Promise<DuckDBResultReader> {
    this.assertOpen();
    try {
      if (this.statementsGated && mayChangeEngine(sql)) await this.assertNoEngineStatement(sql);
      return await this.connection.runAndReadAll(sql);
    } catch (err) {
      if (err instanceof SandboxStatementError) throw err;
      throw new SqlError(sql, err, this.allowedDirectories);
    }
  }

  /** Refuses `sql` when one of its statements would change the engine (see {@link Session.create}). */
  private async assertNoEngineStatement(sql: string): Promise<void> {
    const statements = await this.connection.extractStatements(sql);
    for (let i = 0; i < statements.count; i++) {
      // Preparing binds a statement without running it: nothing is set, attached or loaded.
      const type = (await statements.prepare(i)).statementType;
      if (REFUSED_STATEMENTS.has(type)) throw new SandboxStatementError(sql, StatementType[type] ?? String(type));
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
    return this.closed || this.owner?.closed === true;
  }

  /** Closes the connection and the engine. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owner) {
      this.owner.siblings.delete(this);
      this.connection.closeSync();
      return;
    }
    for (const s of [...this.siblings]) s.close();
    this.connection.closeSync();
    this.instance.closeSync();
    rmSync(this.scratchDir, { recursive: true, force: true });
  }

  private assertOpen(): void {
    if (this.closed || this.owner?.closed) throw new Error('the DuckDB session is closed');
  }
}

/** The engine settings {@link Session.set} may change: they tune the engine, they do not open it. */
export const TUNING_SETTINGS: readonly string[] = [
  'threads',
  'memory_limit',
  'max_memory',
  'max_temp_directory_size',
  'preserve_insertion_order',
  'enable_progress_bar',
  'enable_object_cache',
  'enable_external_file_cache',
  'parquet_metadata_cache',
];

/** Statement types that change the engine rather than query it; a sandboxed session refuses them. */
const REFUSED_STATEMENTS: ReadonlySet<StatementType> = new Set([
  StatementType.SET,
  StatementType.PRAGMA,
  StatementType.LOAD,
  StatementType.ATTACH,
  StatementType.DETACH,
  StatementType.CALL,
  StatementType.EXPORT,
  StatementType.UPDATE_EXTENSIONS,
  // A prepared statement is run by EXECUTE, which would not show what it runs.
  StatementType.PREPARE,
  StatementType.EXECUTE,
]);

const ENGINE_WORDS = 'SET|RESET|PRAGMA|LOAD|INSTALL|FORCE|ATTACH|DETACH|CALL|CHECKPOINT|EXPORT|UPDATE|USE|PREPARE|EXECUTE';
/** Such a statement's first word, where statements start: at the beginning or after a `;`, past blanks and line comments. */
// A line comment ends at a CR as well as at a LF, as in DuckDB's (Postgres's) lexer.
const ENGINE_STATEMENT_START = new RegExp(`(^|;)(\\s|--[^\\n\\r]*([\\n\\r]|$))*(${ENGINE_WORDS})\\b`, 'i');
const ENGINE_WORD_ANYWHERE = new RegExp(`\\b(${ENGINE_WORDS})\\b`, 'i');

/**
 * Whether `sql` may hold a statement that changes the engine, by its words alone: SQL that cannot
 * needs no second parse (generated bronze and Sigma statements are long, and Sigma values are full
 * of words like "Set-" and "Install"). Block comments may nest, so SQL with one is looked at word by word.
 */
function mayChangeEngine(sql: string): boolean {
  return sql.includes('/*') ? ENGINE_WORD_ANYWHERE.test(sql) : ENGINE_STATEMENT_START.test(sql);
}

/** A statement the sandboxed session refuses to run (see {@link Session.create}). */
export class SandboxStatementError extends Error {
  declare readonly sql: string;

  constructor(sql: string, readonly statementType: string) {
    super(
      `the winlake sandbox refuses ${statementType} statements: they change the engine (settings, extensions, attached databases). ` +
        `Tune threads or memory with session.set(name, value) (${TUNING_SETTINGS.join(', ')}), or use Session.create({ sandbox: false }) in a trusted script`,
    );
    this.name = 'SandboxStatementError';
    Object.defineProperty(this, 'sql', { value: sql, enumerable: false });
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

  constructor(sql: string, cause: unknown, allowed: readonly string[] = []) {
    let engine = cause instanceof Error ? cause.message : String(cause);
    if (allowed.length > 0 && /disabled (by|through) configuration/.test(engine)) {
      engine +=
        `\n  (the winlake session's sandbox lets DuckDB open files only under ${allowed.join(', ')}; ` +
        'allow another folder with configureSession({ allowedDirectories }) or WINLAKE_ALLOWED_DIRS)';
    }
    // DuckDB quotes the statement around the error ("LINE 1: SELECT ... ^"): for a Delta scan that
    // is a wall of Parquet paths, so it is kept for debugging only.
    const message = debugging() ? engine : engine.replace(/\n+LINE \d+:[\s\S]*?(?=\n  \(the winlake session|$)/, '');
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

/** The folders a session allows besides its work folder: the lakehouse root, the options', the environment's. */
function sandboxRoots(options: SessionOptions): string[] {
  const fromEnv = (process.env.WINLAKE_ALLOWED_DIRS ?? '').split(path.delimiter).filter(Boolean);
  return [defaultLakehouseRoot(), ...(options.allowedDirectories ?? []), ...fromEnv].map((d) => path.resolve(d));
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
