#!/usr/bin/env bash
# Installs the Spark side of the reference benchmark, once, into ignored folders of the repository:
#   .cache/spark-venv   PySpark + delta-spark (a venv of its own: the project .venv stays small)
#   .cache/spark-jars   the Spark Kafka connector and Delta jars with their runtime dependencies,
#                       resolved from Maven Central by mvn (so later runs need no network)
# Needs python3 (3.9-3.11), Java 17 and mvn on PATH. Prints the venv's python and the jar list file.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PYTHON:-python3}
SPARK_VERSION=3.5.3
DELTA_VERSION=3.2.1
SCALA=2.12
VENV=.cache/spark-venv
JARS=.cache/spark-jars
stamp_want="pyspark==$SPARK_VERSION delta-spark==$DELTA_VERSION scala=$SCALA"

if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp_want" ]; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --disable-pip-version-check -q "pyspark==$SPARK_VERSION" "delta-spark==$DELTA_VERSION"
  echo "$stamp_want" > "$VENV/.stamp"
fi

if [ "$(cat "$JARS/.stamp" 2>/dev/null)" != "$stamp_want" ]; then
  rm -rf "$JARS"
  mkdir -p "$JARS/lib"
  # A throwaway pom whose only job is to name the two artifacts; Spark itself (provided scope) is
  # not copied, and jars PySpark already ships are dropped below, so Spark's own versions win.
  cat > "$JARS/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>winlake.bench</groupId><artifactId>spark-reference-jars</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.spark</groupId><artifactId>spark-sql-kafka-0-10_$SCALA</artifactId><version>$SPARK_VERSION</version></dependency>
    <dependency><groupId>io.delta</groupId><artifactId>delta-spark_$SCALA</artifactId><version>$DELTA_VERSION</version></dependency>
  </dependencies>
</project>
POM
  mvn -q -B -f "$JARS/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=lib
  spark_jars=$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')
  for jar in "$JARS"/lib/*.jar; do
    artifact=$(basename "$jar" | sed -E 's/-[0-9][^-]*(-[^-]+)*\.jar$//')
    if ls "$spark_jars/$artifact"-[0-9]*.jar >/dev/null 2>&1; then rm "$jar"; fi
  done
  ls "$JARS"/lib/*.jar > "$JARS/jars.txt"
  echo "$stamp_want" > "$JARS/.stamp"
fi
echo "spark venv: $VENV/bin/python ($("$VENV/bin/python" -c 'import pyspark; print("pyspark", pyspark.__version__)')); jars: $(paste -sd' ' "$JARS/jars.txt" | xargs -n1 basename | paste -sd' ')"
