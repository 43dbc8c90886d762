"""The reference notebook's pipeline on PySpark + Delta, for the `reference` benchmark.

Written here after the reference notebook's functions (same names, same steps), run by
test/bench/reference.ts with the venv and jars of setup.sh:

  pipeline  Kafka topic -> read_kafka_topic (batch, schema inferred from a sample of the topic, as
            the notebook's spark.read.json over the value strings) -> add_ingest_meta ->
            parser_kafka_winlogbeat('raw') -> bronze Delta table partitioned by _event_date,
            _sourcetype (delta.dataSkippingNumIndexedCols=5) -> parser_kafka_winlogbeat (flatten to
            ':' names) -> Sysmon process events -> cim_dataframe(Process list) -> silver Delta table
            partitioned by _event_date -> OPTIMIZE ... ZORDER BY (process_name, event_id).
  check     the tables shared both ways and the exported packs (see check()).

The Process mapping is read from the winlake pack (kernel-lib/packs/Process.json): the reference's
list and filter as data, with winlake's two documented changes (Sysmon 17 is kept, process_name
falls back to the file name of Image), so that both silver tables can be compared row for row.
Not run: CREATE BLOOMFILTER INDEX (Databricks only; open-source Delta has no bloom filter index).

Every line on stdout is one JSON object; {"event": "stage", "stage": ..., "phase": "start"|"end"}
lines let the harness attribute the process tree's CPU and memory to stages.
"""

import argparse
import json
import sys
import time


def say(**fields):
    sys.stdout.write(json.dumps(fields, default=str) + "\n")
    sys.stdout.flush()


class Stage:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        say(event="stage", stage=self.name, phase="start")
        self.started = time.time()
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            say(event="stage", stage=self.name, phase="end", seconds=time.time() - self.started)


def spark_session(jars, cores, driver_memory=None):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    return (
        builder.master(f"local[{cores}]")
        .appName("winlake-reference")
        .config("spark.jars", jars)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        # One shuffle partition per core instead of 200: the usual local-mode setting, Spark's best case here.
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


# --- the reference notebook's functions ----------------------------------------------------------


def read_kafka_topic(spark, bootstrap_servers, port, topic, start_offset="earliest", ending_offset="latest", sample_offsets=None):
    """Batch read of the topic; the value strings re-parsed with a schema inferred from a sample.

    The notebook inferred the schema with spark.read.json over the value strings of the whole read;
    here over the first `sample_offsets` records of each partition (a timed stage of its own).
    """
    from pyspark.sql import functions as F

    def kafka(ending):
        return (
            spark.read.format("kafka")
            .option("kafka.bootstrap.servers", bootstrap_servers + ":" + str(port))
            .option("subscribe", topic)
            .option("startingOffsets", start_offset)
            .option("endingOffsets", ending)
            .option("failOnDataLoss", "false")
            .load()
        )

    with Stage("schema"):
        sample = kafka(json.dumps({topic: sample_offsets})) if sample_offsets else kafka(ending_offset)
        values = sample.select(F.col("value").cast("string").alias("value")).where("value IS NOT NULL")
        schema = spark.read.json(values.rdd.map(lambda row: row.value)).schema
    df = kafka(ending_offset).select(F.col("value").cast("string").alias("value")).where("value IS NOT NULL")
    parsed = df.select(F.from_json("value", schema).alias("doc")).select("doc.*")
    return parsed, schema


def add_ingest_meta(df):
    from pyspark.sql import functions as F

    return df.select(F.current_timestamp().alias("_ingest_time"), "*")


def parser_kafka_winlogbeat(df, stage="raw"):
    from pyspark.sql import functions as F

    if stage == "raw":
        return df.select(
            F.col("winlog.channel").alias("_sourcetype"),
            F.col("`@timestamp`").cast("timestamp").alias("_event_time"),
            F.to_date(F.col("`@timestamp`")).alias("_event_date"),
            F.col("agent.hostname").alias("dvc_hostname"),
            "*",
        )
    if "message" in df.columns:
        df = df.withColumn("message", F.split(F.col("message"), "\n"))
    return df.select(flatten_columns(df))


def flatten_columns(df):
    """Every non-struct leaf as a top-level column named by its path joined with ':'.

    A MAP (winlake's bronze keeps winlog.event_data as one) becomes one column per key found in
    the data, as winlake's flatten does; arrays are kept whole.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType, StructType

    maps = []

    def walk(field_type, column, path, out):
        if isinstance(field_type, StructType):
            for child in field_type.fields:
                walk(child.dataType, column.getField(child.name), path + [child.name], out)
        elif isinstance(field_type, MapType):
            maps.append((column, path, len(out)))
            out.append(None)
        else:
            out.append(column.alias(":".join(path)))

    out = []
    for field in df.schema.fields:
        walk(field.dataType, F.col("`" + field.name.replace("`", "``") + "`"), [field.name], out)
    if maps:
        keys = df.select(*[F.map_keys(c).alias(f"k{i}") for i, (c, _, _) in enumerate(maps)])
        found = [sorted({k for row in keys.select(F.explode(f"k{i}")).distinct().collect() for k in row}) for i in range(len(maps))]
        for i, (column, path, slot) in enumerate(maps):
            out[slot] = [column.getItem(k).alias(":".join(path + [k])) for k in found[i]]
    flat = []
    for c in out:
        flat.extend(c if isinstance(c, list) else [c])
    return flat


def write_table(df, table_path, table, partitions):
    """Batch append with mergeSchema, partitioned; bronze indexes statistics on its first 5 columns."""
    if table not in ("bronze", "silver", "gold"):
        raise ValueError(f"table must be bronze, silver or gold, got {table}")
    spark = df.sparkSession
    key = "spark.databricks.delta.properties.defaults.dataSkippingNumIndexedCols"
    if table == "bronze":
        spark.conf.set(key, "5")
    try:
        df.write.format("delta").mode("append").option("mergeSchema", "true").partitionBy(*partitions).save(table_path)
    finally:
        spark.conf.unset(key)


def cim_dataframe(df, transforms):
    """The notebook's cim_dataframe: create missing sources, literals, renames, then expressions.

    Missing sources become SQL NULL (the notebook used the string 'null'); output: the named
    targets sorted by name.
    """
    from pyspark.sql import functions as F

    def q(name):
        return F.col("`" + name.replace("`", "``") + "`")

    present = {c.lower(): c for c in df.columns}
    steps = []
    for entry in transforms:
        ((verb, (first, second)),) = entry.items()
        if verb == "rename":
            steps.append(("rename", second, first))
        elif second.lstrip().startswith("LITERAL"):
            steps.append(("literal", first, second.split("=", 1)[1].strip()))
        else:
            steps.append(("expr", first, second.split("=", 1)[1].strip()))
    leaving = {s[2].lower() for s in steps if s[0] == "rename"} | {s[1].lower() for s in steps}
    items = [q(c) for lower, c in present.items() if lower not in leaving]
    items += [F.lit(text).alias(target) for verb, target, text in steps if verb == "literal"]
    for verb, target, source in steps:
        if verb == "rename":
            original = present.get(source.lower())
            items.append((q(original) if original else F.lit(None).cast("string")).alias(target))
    out = df.select(*items)
    for verb, target, sql in steps:
        if verb == "expr":
            out = out.withColumn(target, F.expr(sql))
    return out.select(*[q(t) for t in sorted(s[1] for s in steps)])


def optimize_table(spark, table_path, columns):
    spark.sql(f"OPTIMIZE delta.`{table_path}` ZORDER BY ({', '.join(columns)})")


# --- the benchmark's jobs -------------------------------------------------------------------------


def pipeline(args):
    from pyspark.sql import functions as F

    pack = json.load(open(args.pack))
    with Stage("startup"):
        spark = spark_session(args.jars, args.cores)
    # The sample: the first records of each partition (the simulator's pool is spread over them).
    raw, _schema = read_kafka_topic(spark, args.host, args.port, args.topic, sample_offsets=json.loads(args.sample_offsets))
    bronze_path = f"{args.lake}/bronze/winlogbeat_kafka_bronze"
    silver_path = f"{args.lake}/silver/process"
    with Stage("bronze"):
        bronze = parser_kafka_winlogbeat(add_ingest_meta(raw), "raw")
        write_table(bronze, bronze_path, "bronze", ["_event_date", "_sourcetype"])
    with Stage("silver"):
        flat = parser_kafka_winlogbeat(spark.read.format("delta").load(bronze_path), "flatten")
        source = pack["sources"][0]
        events = flat.where((F.col("_sourcetype") == source["sourcetype"]) & F.col("`winlog:event_id`").cast("string").isin(source["eventIds"]))
        write_table(cim_dataframe(events, pack["transforms"]), silver_path, "silver", pack["partitions"])
    with Stage("optimize"):
        optimize_table(spark, silver_path, pack["zorder"])
    say(
        event="done",
        bronzeRows=spark.read.format("delta").load(bronze_path).count(),
        silverRows=spark.read.format("delta").load(silver_path).count(),
    )
    spark.stop()


def as_strings(df):
    """Every column cast to text, so that two tables' rows compare whatever each engine typed them."""
    from pyspark.sql import functions as F

    return df.select(*[F.col("`" + c + "`").cast("string").alias(c) for c in sorted(df.columns)])


def describe(spark, table_path, order_by, sample_columns):
    from pyspark.sql import functions as F

    df = spark.read.format("delta").load(table_path)
    sample = df.orderBy(*[F.col("`" + c + "`").cast("string").asc_nulls_first() for c in order_by]).select(*[F.col("`" + c + "`").cast("string") for c in sample_columns]).limit(5)
    return {
        "count": df.count(),
        "schema": [[f.name, f.dataType.simpleString()] for f in df.schema.fields],
        "sample": [list(r) for r in sample.collect()],
    }


def check(args):
    """The tables shared both ways, from Spark's side (spec: a JSON file from the harness).

    - `describe`: count, schema and an ordered sample of each winlake table (and of Spark's own);
    - `compare`: the two silver Process tables row for row, EXCEPT ALL both ways, every column as text;
    - `append`: appends rows of a table to itself (Spark commits to a winlake table);
    - `packs`: each exported pack's SQL over winlake's flattened bronze, EXCEPT ALL both ways against
      winlake's silver table.
    """
    spec = json.load(open(args.spec))
    # Not timed: a heap of its own size, since at 1M documents the checks (every pack over the whole
    # flattened bronze, EXCEPT ALL both ways) outgrow Spark's default 1 GB driver.
    spark = spark_session(args.jars, args.cores, driver_memory="4g")
    out = {"describe": {}, "compare": None, "append": None, "packs": {}}
    for name, t in spec.get("describe", {}).items():
        out["describe"][name] = describe(spark, t["path"], t["orderBy"], t["sample"])
    if spec.get("compare"):
        a = spark.read.format("delta").load(spec["compare"]["winlake"])
        b = spark.read.format("delta").load(spec["compare"]["spark"])
        common = sorted(set(a.columns) & set(b.columns))
        sa, sb = as_strings(a.select(*[f"`{c}`" for c in common])), as_strings(b.select(*[f"`{c}`" for c in common]))
        out["compare"] = {
            "winlakeRows": a.count(),
            "sparkRows": b.count(),
            "onlyWinlakeColumns": sorted(set(a.columns) - set(b.columns)),
            "onlySparkColumns": sorted(set(b.columns) - set(a.columns)),
            "winlakeExceptAllSpark": sa.exceptAll(sb).count(),
            "sparkExceptAllWinlake": sb.exceptAll(sa).count(),
        }
    if spec.get("packs"):
        from pyspark import StorageLevel

        bronze = spark.read.format("delta").load(spec["packs"]["bronze"])
        # Read and flattened once for all packs (each pack's checks scan it four times).
        flat = parser_kafka_winlogbeat(bronze, "flatten").persist(StorageLevel.MEMORY_AND_DISK)
        present = {c.lower() for c in flat.columns}
        from pyspark.sql import functions as F

        for pack in spec["packs"]["list"]:
            # The export reads these columns; a bronze without one (no such event seen yet) gets it as NULL.
            missing = [c for c in pack["columns"] if c.lower() not in present]
            view = flat.select("*", *[F.lit(None).cast("string").alias(c) for c in missing])
            view.createOrReplaceTempView(spec["packs"]["view"])
            exported = spark.sql(open(pack["sql"]).read()).persist(StorageLevel.MEMORY_AND_DISK)
            silver = spark.read.format("delta").load(pack["silver"]).persist(StorageLevel.MEMORY_AND_DISK)
            cols = sorted(silver.columns)
            same_columns = sorted(exported.columns) == cols
            ea, eb = as_strings(exported), as_strings(silver)
            out["packs"][pack["table"]] = {
                "exportRows": exported.count(),
                "silverRows": silver.count(),
                "sameColumns": same_columns,
                "exportExceptAllSilver": ea.exceptAll(eb).count() if same_columns else None,
                "silverExceptAllExport": eb.exceptAll(ea).count() if same_columns else None,
            }
            exported.unpersist()
            silver.unpersist()
        flat.unpersist()
    if spec.get("append"):
        path = spec["append"]["path"]
        df = spark.read.format("delta").load(path)
        before = df.count()
        rows = df.limit(spec["append"]["rows"])
        rows.write.format("delta").mode("append").save(path)
        out["append"] = {"before": before, "appended": spec["append"]["rows"], "after": spark.read.format("delta").load(path).count()}
    say(event="check", **out)
    spark.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("job", choices=["pipeline", "check"])
    p.add_argument("--jars", required=True, help="comma-separated jar paths (setup.sh)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--topic")
    p.add_argument("--sample-offsets", help='pipeline: JSON {"partition": end offset} of the sample the schema is inferred from')
    p.add_argument("--lake", help="the Spark lakehouse folder")
    p.add_argument("--pack", help="the Process pack JSON")
    p.add_argument("--spec", help="check: the JSON spec")
    args = p.parse_args()
    (pipeline if args.job == "pipeline" else check)(args)


if __name__ == "__main__":
    main()
