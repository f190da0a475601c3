#!/usr/bin/env python3
"""Confluent's own Python client against edalab: the foreign side of the interop tests.

Runs with the python of the venv that scripts/ensure-tools.sh installs
(`$EDALAB_CONFLUENT_PYTHON`, ~/.cache/edalab/bin/confluent-python): `confluent-kafka` from
PyPI (librdkafka in its wheel) with its schema registry client and Avro serde. Nothing here
is edalab's code: what this script writes and reads is what any Confluent client would.

  consume  reads N Avro records of a topic through the registry, one JSON line each on stdout:
           {"topic", "partition", "offset", "schema_id", "key", "value"}
  produce  registers a schema under `<topic>-value` (TopicNameStrategy, auto-registration) and
           writes the records of a JSONL file, one JSON line per delivered record on stdout:
           {"topic", "partition", "offset", "schema_id"}

Every failure is one line on stderr (the failure itself, no program name before it) and a
non-zero exit status:
  1   any other failure (unreachable broker or registry, a record that does not decode, ...)
  2   consume: fewer than --count records arrived before --timeout (the line says how many)
  3   the registry refused a request (`registry refused: HTTP <status> error_code <code>: <message>`);
      produce then wrote nothing
  64  bad command line
Every wait is bounded by --timeout (default 30 s); a watchdog ends the process a little after
it, so it never hangs.

See scripts/interop/README.md.
"""

import argparse
import datetime
import decimal
import json
import logging
import os
import sys
import threading
import time
import uuid

PROG = "confluent_avro.py"

# Exit statuses (see the module's documentation).
EXIT_FAILURE = 1
EXIT_TOO_FEW = 2
EXIT_REFUSED = 3
EXIT_USAGE = 64

# How long after --timeout the watchdog ends a process stuck inside the client library.
WATCHDOG_GRACE_S = 15.0


class Failure(Exception):
    """A failure to report as one line on stderr, with its exit status."""

    def __init__(self, message, status=EXIT_FAILURE, registry=False):
        super().__init__(message)
        self.status = status
        # The registry refused or did not answer (reported as is, not as a record's fault).
        self.registry = registry


def one_line(text):
    """`text` on one line (clients' messages may hold newlines)."""
    return " ".join(str(text).split())


# --- Command line -------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 64 (2 means "too few")."""

    def error(self, message):
        sys.stderr.write(f"{PROG}: usage error: {one_line(message)} (see --help)\n")
        sys.exit(EXIT_USAGE)


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {text}")
    return value


def parse_args(argv):
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def common(sub):
        sub.add_argument("--bootstrap", required=True, help="broker HOST:PORT (bootstrap.servers)")
        sub.add_argument("--registry", required=True, help="registry URL, e.g. http://127.0.0.1:8080/registry")
        sub.add_argument("--topic", required=True)
        sub.add_argument(
            "--timeout", type=positive_float, default=30.0, help="seconds any wait may last (default 30)"
        )

    consume = commands.add_parser("consume", help="read --count Avro records, one JSON line each")
    common(consume)
    consume.add_argument("--count", type=positive_int, required=True, help="records to read")
    consume.add_argument(
        "--group", help="consumer group (default: a fresh one, so reading starts at the earliest offset)"
    )

    produce = commands.add_parser("produce", help="register a schema and write JSONL records with it")
    common(produce)
    produce.add_argument("--schema", required=True, help="the Avro schema (.avsc) to register and write with")
    produce.add_argument("--records", required=True, help="JSONL file, one JSON object per line ('-': stdin)")
    produce.add_argument("--key-field", help="field whose value is the record's key (UTF-8); no key without it")
    return parser.parse_args(argv)


# --- Watchdog and client plumbing ---------------------------------------------------------


def start_watchdog(seconds, what):
    """Ends the process (exit 1, one line) if it still runs `seconds` from now: a last resort
    for a call stuck inside librdkafka, where Python's own timeouts cannot reach."""

    def fire():
        sys.stderr.write(f"{what}: still running {seconds:.0f} s after start, giving up\n")
        sys.stderr.flush()
        os._exit(EXIT_FAILURE)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


class ClientLog:
    """librdkafka's log lines and error events, kept (not printed) so that a failure can name
    the last one; librdkafka would otherwise print many lines on stderr."""

    def __init__(self):
        self.last = None
        self.logger = logging.getLogger("librdkafka")
        self.logger.propagate = False
        self.logger.setLevel(logging.WARNING)
        self.logger.addHandler(self._Handler(self))

    class _Handler(logging.Handler):
        def __init__(self, owner):
            super().__init__(logging.WARNING)
            self.owner = owner

        def emit(self, record):
            self.owner.last = one_line(record.getMessage())

    def on_error(self, error):
        """error_cb: a client-level error (broker down, ...), usually transient."""
        if error.fatal():
            raise Failure(f"fatal client error: {error.str()}")
        self.last = one_line(error.str())

    def suffix(self):
        return f" (last client error: {self.last})" if self.last else ""


def registry_client(url, timeout):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    # Each HTTP request bounded; retries (on 408/429/5xx and network errors) few and short.
    return SchemaRegistryClient(
        {
            "url": url,
            "timeout": max(1, min(10, int(timeout))),
            "max.retries": 2,
            "retries.wait.ms": 200,
            "retries.max.wait.ms": 1000,
        }
    )


def explain(error, registry_url):
    """A Failure for an exception of the registry client (or of the Avro serde)."""
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    seen = error
    while seen is not None:  # the serde may wrap the registry's error
        if isinstance(seen, SchemaRegistryError):
            return Failure(
                f"registry refused: HTTP {seen.http_status_code} error_code {seen.error_code}: "
                f"{one_line(seen.error_message)}",
                EXIT_REFUSED,
                registry=True,
            )
        if isinstance(seen, Failure):
            return seen
        if type(seen).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2"):
            return Failure(
                f"registry unreachable at {registry_url}: {type(seen).__name__}: {one_line(seen)}", registry=True
            )
        seen = seen.__cause__ or seen.__context__
    return Failure(f"{type(error).__name__}: {one_line(error)}")


def schema_id_of(raw):
    """The schema id of a Confluent wire-format value: magic byte 0, then 4 bytes big-endian."""
    if raw is None or len(raw) < 5 or raw[0] != 0:
        return None
    return int.from_bytes(raw[1:5], "big")


# --- consume -------------------------------------------------------------------------------


def json_safe(value):
    """A decoded Avro value as JSON can hold it: Decimal -> string, date/time -> ISO-8601,
    bytes -> hex, UUID -> string; records, maps and arrays converted inside."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def consume(args):
    from confluent_kafka import Consumer, KafkaError
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    log = ClientLog()
    deserializer = AvroDeserializer(registry_client(args.registry, args.timeout))
    group = args.group or f"confluent-avro-interop-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            # tansu answers a JoinGroup after about half the session timeout: keep it short.
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            # Offsets of the records returned are committed (auto commit and on close).
            "enable.auto.commit": True,
            "logger": log.logger,
            "error_cb": log.on_error,
        }
    )
    deadline = time.monotonic() + args.timeout
    decoded = 0
    try:
        consumer.subscribe([args.topic])
        while decoded < args.count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(
                    f"only {decoded} of {args.count} records arrived on {args.topic} within "
                    f"{args.timeout:g} s{log.suffix()}",
                    EXIT_TOO_FEW,
                )
            message = consumer.poll(min(1.0, left))
            if message is None:
                continue
            if message.error() is not None:
                error = message.error()
                if error.fatal():
                    raise Failure(f"fatal consumer error: {error.str()}")
                # Transient (e.g. the topic does not exist yet): keep waiting, remember it.
                if error.code() != KafkaError._PARTITION_EOF:
                    log.last = one_line(error.str())
                continue
            where = f"{message.topic()}/{message.partition()}@{message.offset()}"
            raw = message.value()
            schema_id = schema_id_of(raw)
            if schema_id is None:
                first = "no value" if not raw else f"first byte 0x{raw[0]:02x}, {len(raw)} bytes"
                raise Failure(f"record {where} is not in Confluent's wire format ({first})")
            context = SerializationContext(message.topic(), MessageField.VALUE, message.headers())
            try:
                value = deserializer(raw, context)
            except Exception as error:  # noqa: BLE001 - reported as one line
                failure = explain(error, args.registry)
                if not failure.registry:
                    failure = Failure(f"record {where} (schema id {schema_id}) does not decode: {failure}")
                raise failure from error
            key = message.key()
            line = {
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "schema_id": schema_id,
                "key": None if key is None else key.decode("utf-8", errors="backslashreplace"),
                "value": json_safe(value),
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
            decoded += 1
    finally:
        consumer.close()  # commits and leaves the group; the watchdog bounds it


# --- produce -------------------------------------------------------------------------------


class AvroPreparer:
    """Turns a JSON record into what fastavro writes for an Avro schema: the JSON of a decimal
    (a string such as "125.50", or a number) becomes a `decimal.Decimal`; an ISO-8601 string
    for a timestamp-millis/-micros becomes a `datetime` (naive = UTC), for a date a `date`, for
    a time-millis/-micros a `time`; integers and uuid strings stay as they are. Records, maps,
    arrays and unions are walked; named types are resolved by full or short name."""

    PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

    def __init__(self, schema):
        self.named = {}
        self._collect(schema, None)
        self.schema = schema

    def _collect(self, schema, namespace):
        """Remembers every named type (record, enum, fixed) of `schema`."""
        if isinstance(schema, list):
            for branch in schema:
                self._collect(branch, namespace)
        elif isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error", "enum", "fixed") and "name" in schema:
                name = schema["name"]
                space = schema.get("namespace", namespace)
                full = name if "." in name or not space else f"{space}.{name}"
                self.named[full] = schema
                self.named.setdefault(full.rsplit(".", 1)[-1], schema)
                namespace = full.rsplit(".", 1)[0] if "." in full else None
            if kind in ("record", "error"):
                for field in schema.get("fields", []):
                    self._collect(field.get("type"), namespace)
            elif kind == "array":
                self._collect(schema.get("items"), namespace)
            elif kind == "map":
                self._collect(schema.get("values"), namespace)
            elif isinstance(kind, (dict, list)):
                self._collect(kind, namespace)

    def prepare(self, value, schema=None, path="record"):
        schema = self.schema if schema is None else schema
        if isinstance(schema, str):
            if schema in self.PRIMITIVES:
                return value
            if schema in self.named:
                return self.prepare(value, self.named[schema], path)
            return value  # unknown name: fastavro will say so
        if isinstance(schema, list):
            return self._union(value, schema, path)
        if not isinstance(schema, dict):
            return value
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if isinstance(kind, (dict, list)):
            return self.prepare(value, kind, path)
        if logical == "decimal" and kind in ("bytes", "fixed"):
            return self._decimal(value, path)
        if logical in ("timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"):
            if isinstance(value, str):
                return self._datetime(value, path, local=logical.startswith("local-"))
            return value
        if logical == "date" and isinstance(value, str):
            return self._parse(datetime.date.fromisoformat, value, path, "an ISO-8601 date")
        if logical in ("time-millis", "time-micros") and isinstance(value, str):
            return self._parse(datetime.time.fromisoformat, value, path, "an ISO-8601 time")
        if kind in ("record", "error") and isinstance(value, dict):
            out = dict(value)
            for field in schema.get("fields", []):
                name = field.get("name")
                if name in out:
                    out[name] = self.prepare(out[name], field.get("type"), f"{path}.{name}")
            return out
        if kind == "array" and isinstance(value, list):
            return [self.prepare(v, schema.get("items"), f"{path}[{i}]") for i, v in enumerate(value)]
        if kind == "map" and isinstance(value, dict):
            return {k: self.prepare(v, schema.get("values"), f"{path}.{k}") for k, v in value.items()}
        return value

    def _union(self, value, branches, path):
        if value is None:
            return None
        for branch in branches:
            if self._accepts(branch, value):
                return self.prepare(value, branch, path)
        return value  # no branch fits: fastavro will say so

    def _accepts(self, schema, value):
        """Whether a JSON value can be `schema` (to pick a union's branch)."""
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        kind = schema.get("type") if isinstance(schema, dict) else schema
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if isinstance(kind, (dict, list)):
            return self._accepts(kind, value)
        if logical == "decimal":
            return isinstance(value, (str, int, float)) and not isinstance(value, bool)
        if kind == "null":
            return value is None
        if kind == "boolean":
            return isinstance(value, bool)
        if kind in ("int", "long"):
            return (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, str) and logical is not None
            )
        if kind in ("float", "double"):
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind in ("string", "bytes", "enum", "fixed"):
            return isinstance(value, str)
        if kind in ("record", "error", "map"):
            return isinstance(value, dict)
        if kind == "array":
            return isinstance(value, list)
        return False

    @staticmethod
    def _decimal(value, path):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return value  # already a Decimal, or fastavro will say what is wrong
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation:
            raise Failure(f"{path}: {value!r} is not a decimal number") from None
        if not number.is_finite():
            raise Failure(f"{path}: {value!r} is not a finite decimal number")
        return number

    @classmethod
    def _datetime(cls, value, path, local):
        moment = cls._parse(datetime.datetime.fromisoformat, value, path, "an ISO-8601 date-time")
        if not local and moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment

    @staticmethod
    def _parse(parse, value, path, what):
        try:
            return parse(value)
        except ValueError:
            raise Failure(f"{path}: {value!r} is not {what}") from None


def read_records(path):
    """The JSON objects of a JSONL file (blank lines skipped), with their line numbers."""
    try:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as error:
        raise Failure(f"cannot read the records {path}: {error.strerror}") from None
    records = []
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise Failure(f"{path}:{number}: not JSON: {error.msg}") from None
            if not isinstance(record, dict):
                raise Failure(f"{path}:{number}: not a JSON object")
            records.append((number, record))
    if not records:
        raise Failure(f"{path}: no records")
    return records


def key_of(record, field, where):
    """The key of a record: its `field` as UTF-8 (a non-string as its JSON), or None."""
    if field is None:
        return None
    if field not in record or record[field] is None:
        raise Failure(f"{where}: no value for the key field {field!r}")
    value = record[field]
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8")


def produce(args):
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    try:
        with open(args.schema, encoding="utf-8") as handle:
            schema_str = handle.read()
        schema = json.loads(schema_str)
    except OSError as error:
        raise Failure(f"cannot read the schema {args.schema}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise Failure(f"the schema {args.schema} is not JSON: {error.msg}") from None
    records = read_records(args.records)
    preparer = AvroPreparer(schema)

    log = ClientLog()
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            # Kafka's (and edalab's) partitioner: murmur2 of the key, as the Java clients.
            "partitioner": "murmur2_random",
            # A record not delivered within the timeout fails instead of waiting on.
            "message.timeout.ms": int(args.timeout * 1000),
            "logger": log.logger,
            "error_cb": log.on_error,
        }
    )

    # The topic must exist (no automatic creation is asked for): fail early and clearly.
    try:
        metadata = producer.list_topics(timeout=args.timeout)
    except KafkaException as error:
        reason = error.args[0].str() if error.args and hasattr(error.args[0], "str") else error
        raise Failure(f"broker {args.bootstrap} did not answer within {args.timeout:g} s: {reason}{log.suffix()}")
    if args.topic not in metadata.topics:
        raise Failure(f"topic {args.topic} does not exist on {args.bootstrap}")

    # Every record serialized before any is sent: the first registers the schema, and a
    # refusal (or a record that does not fit the schema) leaves the topic untouched.
    serializer = AvroSerializer(
        registry_client(args.registry, args.timeout),
        schema_str,
        to_dict=lambda record, _ctx: preparer.prepare(record),
        conf={"auto.register.schemas": True},
    )
    context = SerializationContext(args.topic, MessageField.VALUE)
    encoded = []
    for number, record in records:
        where = f"{args.records}:{number}"
        try:
            value = serializer(record, context)
        except Failure as failure:
            raise Failure(f"{where}: {failure}", failure.status) from None
        except Exception as error:  # noqa: BLE001 - reported as one line
            failure = explain(error, args.registry)
            if failure.registry:
                raise failure from error
            raise Failure(f"{where}: does not serialize with {args.schema}: {failure}") from error
        encoded.append((key_of(record, args.key_field, where), value))

    delivered, failed = [], []

    def on_delivery(error, message):
        if error is not None:
            failed.append(one_line(error.str()))
        else:
            raw = message.value()
            delivered.append(
                {
                    "topic": message.topic(),
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "schema_id": schema_id_of(raw),
                }
            )

    deadline = time.monotonic() + args.timeout
    for key, value in encoded:
        while True:
            try:
                producer.produce(args.topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain it
                if time.monotonic() >= deadline:
                    raise Failure(f"the producer's queue stayed full for {args.timeout:g} s{log.suffix()}")
                producer.poll(0.1)
    left = producer.flush(max(0.0, deadline - time.monotonic()))
    for line in delivered:
        print(json.dumps(line), flush=True)
    if failed:
        raise Failure(f"{len(failed)} of {len(encoded)} records not delivered: {failed[0]}")
    if left:
        raise Failure(f"{left} of {len(encoded)} records not delivered within {args.timeout:g} s{log.suffix()}")


# --- main ----------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    start_watchdog(args.timeout + WATCHDOG_GRACE_S, args.command)
    try:
        {"consume": consume, "produce": produce}[args.command](args)
    except Failure as failure:
        sys.stderr.write(f"{one_line(failure)}\n")
        return failure.status
    except KeyboardInterrupt:
        sys.stderr.write(f"{args.command}: interrupted\n")
        return EXIT_FAILURE
    except Exception as error:  # noqa: BLE001 - every failure is one line
        failure = explain(error, args.registry)
        sys.stderr.write(f"{one_line(failure)}\n")
        return failure.status
    return 0


if __name__ == "__main__":
    sys.exit(main())
