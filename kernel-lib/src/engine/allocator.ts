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
 * 100 ms, 1.05 GB with 30 ms, at the same speed; a decay of 0 made the parse 25% slower. The price
 * is paid by batch work: at 500k events `buildSilver` took 5-9% longer and plain DuckDB SQL over
 * bronze 14% (500 ms costs nothing there, but lets the ingest peak at 1.12 GB). Set the variable
 * empty for DuckDB's own behaviour.
 */
export const ENGINE_MALLOC_CONF = 'dirty_decay_ms:100,muzzy_decay_ms:0';

process.env.DUCKDB_JE_MALLOC_CONF ??= ENGINE_MALLOC_CONF;
