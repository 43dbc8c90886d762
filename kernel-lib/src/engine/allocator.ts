/**
 * How DuckDB's allocator (its own jemalloc, configured by `DUCKDB_JE_MALLOC_CONF`) gives freed
 * memory back to the system. jemalloc reads the variable once, when the engine's native library
 * starts, so every module that loads `@duckdb/node-api` imports this one first; a value the user
 * set is kept.
 *
 * Why: a streaming ingest runs two queries at once on one engine thread each (see the streaming
 * query), and without the allocator flush that DuckDB does whenever `threads` changes, memory freed
 * by one batch stays mapped until jemalloc's decay returns it. Measured at 1M events, 50k per batch,
 * on 2 cores: peak RSS 1.86 GB with DuckDB's own decay, 1.14-1.38 GB with 300 ms, 1.06 GB with
 * 100 ms, 1.05 GB with 30 ms, at the same speed; a decay of 0 made the parse 25% slower.
 *
 * One arena per two cores (DuckDB's own was two on this 2-core machine): the parse and the write
 * run on different threads, and with an arena each, the memory one frees is not reused by the other. Measured at 1M
 * events, 30k per batch, on 2 cores, runs alternating: peak RSS 0.80-0.83 GB against 0.89-0.96 GB,
 * at 36.6-37.0k events/s against 37.4-37.8k (1-2% slower, within the noise of other pairs).
 *
 * The price is paid by batch work, and it is the decay's: `npm run bench -- silver` at 500k,
 * plain DuckDB SQL over bronze 6.2-6.3 s against 5.2-5.3 s with DuckDB's own allocator settings,
 * `buildSilver` 8.0-8.2 s against 7.5 s (one arena with DuckDB's own decay: 5.2 and 7.5 s, no
 * cost). A longer decay lets the ingest peak over 1 GB again (300 ms: 1.07 GB; 1 s: 1.1 GB; none:
 * 1.0-1.1 GB, although 10% faster), and so does forcing a flush between batches with DuckDB's own
 * decay (1.1 GB: the peak is inside a batch). Set the variable empty for DuckDB's own behaviour.
 * Since `Session.create` turns on jemalloc's background threads (`allocator_background_threads`),
 * they give the memory back instead of the query threads, and most of that price is gone (silver
 * bench at 500k: plain DuckDB 4.66 s against 4.43 s with DuckDB's own settings, `buildSilver` 6.29
 * against 6.35 s).
 */
import { availableParallelism } from 'node:os';

export const ENGINE_MALLOC_CONF = `narenas:${Math.max(1, Math.floor(availableParallelism() / 2))},dirty_decay_ms:100,muzzy_decay_ms:0`;

process.env.DUCKDB_JE_MALLOC_CONF ??= ENGINE_MALLOC_CONF;
