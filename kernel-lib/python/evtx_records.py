"""Streams the records of .evtx files as NDJSON on stdout, one evtx_dump-layout JSON object a line.

Used by winlake's EVTX reader (kernel-lib/src/winlogbeat/evtx.ts). The parsing is pyevtx-rs (the
`evtx` wheel, the Rust `evtx` crate behind evtx_dump): records come out chunk by chunk, so memory
stays bounded whatever the file's size. Exit code 3 with a message on stderr names a file or
record that cannot be read.
"""
import os
import sys

try:
    from evtx import PyEvtxParser
except ImportError as err:  # pragma: no cover - reported to the caller verbatim
    sys.stderr.write(f"the python package 'evtx' is not installed ({err}); run: bash .ci/setup-python.sh\n")
    sys.exit(2)


def main(paths: list[str]) -> int:
    threads = int(os.environ.get("WINLAKE_EVTX_THREADS", "0"))
    out = sys.stdout
    for path in paths:
        try:
            parser = PyEvtxParser(path, number_of_threads=threads)
            for record in parser.records_json():
                # evtx_dump's JSON is compact: a record never holds a raw newline.
                out.write(record["data"])
                out.write("\n")
        except (OSError, RuntimeError, ValueError) as err:
            out.flush()
            sys.stderr.write(f"{path}: cannot read the EVTX file: {err}\n")
            return 3
    out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        # The reader stopped early (it had what it needed): not an error.
        sys.exit(0)
