"""Event sources, delivered locally the way Lambda and EventBridge deliver them on AWS.

Built from template.yaml like the rest of the local stack:
- DynamoDB streams -> functions with a `Type: DynamoDB` event: records in stream order, filtered by the
  event's FilterCriteria, in batches of BatchSize; a failed batch is retried (MaximumRetryAttempts,
  BisectBatchOnFunctionError, ReportBatchItemFailures) and then described to the OnFailure destination;
- EventBridge rules with an event pattern (`AWS::Events::Rule`, `Type: EventBridgeRule`) -> their Lambda
  or SQS targets, for every event put on the rule's bus (moto would raise NotImplementedError for a
  Lambda target, so no pattern rule is given to moto: matching and delivery are done here, with moto's
  own pattern matcher);
- SQS queues -> functions with a `Type: SQS` event: visible messages in batches; handled ones deleted,
  failed ones left to come back after their visibility timeout (on the stack's clock), moved to the
  queue's dead-letter queue by moto after maxReceiveCount receives.

One thread delivers, woken by a new stream record, a bus event, or a message sent; `is_idle` and
`next_due` let the stack settle and move a virtual clock to the moment a message becomes visible again,
so tests stay deterministic. Every event put on any bus is kept (`bus_events`) for `oms` and tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oms.local.clock import Clock
from oms.local.template import (
    PatternRuleSpec,
    Resolver,
    SqsSourceSpec,
    StreamSourceSpec,
    Template,
    pattern_rules,
    sqs_sources,
    stream_sources,
)

Invoke = Callable[[str, dict[str, Any]], Any]
_MAX_BISECT_DEPTH = 8
_RULE_TARGET_ATTEMPTS = 3
# Wall seconds delivery waits at most for the stack to be quiet before it delivers what it has
# (MaximumBatchingWindowInSeconds, shortened: the local stack's writes come in bursts of milliseconds).
_BATCHING_WINDOW = 0.25  # a Lambda target that keeps failing is given up (recorded in `errors`)


@dataclass
class Delivery:
    """One invocation an event source made (kept for tests and `oms` reports)."""

    at: datetime
    source: str  # the event source mapping or rule name
    function: str | None
    records: int
    ok: bool
    error: str | None = None


@dataclass
class _StreamConsumer:
    spec: StreamSourceSpec
    table: str
    stream_arn: str
    patterns: list[Any]
    on_failure: str | None
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    # The record fields the filter patterns name: moto's matcher copies and flattens the whole record
    # (a NEW_IMAGE carries the whole item), so records are matched on just these.
    pattern_shape: dict[str, Any] | None = None


@dataclass
class _QueueConsumer:
    spec: SqsSourceSpec
    queue_name: str
    queue_url: str
    queue_arn: str


@dataclass
class _Rule:
    spec: PatternRuleSpec
    bus: str
    pattern: Any
    targets: list[dict[str, Any]]


class LocalEventSources:
    def __init__(
        self,
        session: Any,
        template: Template,
        resolver: Resolver,
        clock: Clock,
        invoke: Invoke,
        known_functions: Callable[[], set[str]],
        region: str,
        account: str,
        quiet: Callable[[], bool] = lambda: True,
    ) -> None:
        from moto.events.models import EventPattern

        self._quiet = quiet  # nothing else running in the stack right now

        self.clock = clock
        self._invoke = invoke
        self._known_functions = known_functions
        self.region, self.account = region, account
        self._sqs = session.client("sqs")
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._bus_pending: deque[tuple[str, dict[str, Any]]] = deque()
        self.bus_events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=100_000)
        self.deliveries: deque[Delivery] = deque(maxlen=100_000)
        self.errors: list[str] = []

        self._streams: list[_StreamConsumer] = []
        for spec in stream_sources(template):
            if not spec.enabled:
                continue
            stream_arn = str(resolver.resolve(spec.stream))
            table = stream_arn.split(":table/", 1)[1].split("/", 1)[0]
            self._streams.append(
                _StreamConsumer(
                    spec=spec,
                    table=table,
                    stream_arn=stream_arn,
                    patterns=[EventPattern.load(p) for p in spec.filters],
                    on_failure=str(resolver.resolve(spec.on_failure)) if spec.on_failure else None,
                    pattern_shape=_shape_of([json.loads(p) for p in spec.filters]),
                )
            )
        self._stream_tables = sorted({c.table for c in self._streams})

        self._queues: list[_QueueConsumer] = []
        for sqs_spec in sqs_sources(template):
            if not sqs_spec.enabled:
                continue
            queue_arn = str(resolver.resolve(sqs_spec.queue))
            name = queue_arn.rsplit(":", 1)[-1]
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self._queues.append(_QueueConsumer(sqs_spec, name, url, queue_arn))

        self._rules: list[_Rule] = []
        for rule_spec in pattern_rules(template):
            if not rule_spec.enabled:
                continue
            bus = "default" if rule_spec.bus is None else str(resolver.resolve(rule_spec.bus))
            pattern = resolver.resolve(rule_spec.pattern)
            targets = [
                {"Id": t["Id"], "Arn": str(resolver.resolve(t["Arn"])), "Input": t.get("Input")}
                for t in rule_spec.targets
            ]
            self._rules.append(
                _Rule(rule_spec, bus.rsplit("/", 1)[-1], EventPattern.load(json.dumps(pattern)), targets)
            )

    # ------------------------------------------------------------ lifecycle

    def start(self) -> LocalEventSources:
        from oms.local import moto_patches

        moto_patches.RUNTIME.stream_listener = self._wake.set
        moto_patches.RUNTIME.bus_listener = self._on_bus_event
        self._thread = threading.Thread(target=self._run, name="oms-local-event-sources", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        from oms.local import moto_patches

        moto_patches.RUNTIME.stream_listener = None
        moto_patches.RUNTIME.bus_listener = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _on_bus_event(self, bus: str, event: dict[str, Any]) -> None:
        self.bus_events.append((bus, event))
        self._bus_pending.append((bus, event))
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(0.02 if self._queues else 0.2)
            if woken:
                self._gather()
            self._wake.clear()
            try:
                while self.pump() and not self._stop.is_set():
                    pass
            except Exception as exc:  # delivery must outlive any one bad record
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def _gather(self) -> None:
        """Wait (wall time, bounded) until the rest of the stack is quiet, so a burst of writes and events
        is delivered as one batch (Lambda's MaximumBatchingWindowInSeconds does the same on AWS), and
        delivery does not compete with the stage it follows."""
        started = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - started < _BATCHING_WINDOW:
            if self._quiet():
                return
            time.sleep(0.005)

    # ------------------------------------------------------------ what the stack asks

    def is_idle(self) -> bool:
        """Nothing being delivered and nothing deliverable now (messages invisible until later are timers)."""
        if self._busy or self._bus_pending or any(c.pending for c in self._streams):
            return False
        if any(self._stream_items(table) for table in self._stream_tables):
            return False
        return not any(self._visible(q.queue_name) for q in self._queues)

    def next_due(self) -> datetime | None:
        """When the earliest message a consumer gave back becomes visible again."""
        moments: list[float] = []
        for consumer in self._queues:
            queue = self._moto_queue(consumer.queue_name)
            if queue is not None:
                moments += [m.visible_at for m in list(queue._messages) if not m.visible]
                moments += [m.delayed_until for m in list(queue._messages) if m.delayed]
        if not moments:
            return None
        return datetime.fromtimestamp(min(moments) / 1000 + 0.001, UTC)

    def pump(self) -> int:
        """Deliver everything deliverable now (what the thread does). Returns how many records/events."""
        with self._lock:
            self._busy = True
            try:
                return self._pump_streams() + self._pump_bus() + self._pump_queues()
            finally:
                self._busy = False

    # ------------------------------------------------------------ DynamoDB streams

    def _backend(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account][self.region]

    def _stream_items(self, table_name: str) -> int:
        try:
            shard = self._backend().get_table(table_name).stream_shard
        except Exception:
            return 0
        return len(shard.items) if shard is not None else 0

    def _take_stream_records(self, table_name: str) -> list[dict[str, Any]]:
        """The table's new stream records, removed from moto's shard (the consumers' cursors live here;
        sequence numbers keep counting up)."""
        from oms.local import moto_patches

        with moto_patches.RUNTIME.dynamodb_lock:
            shard = self._backend().get_table(table_name).stream_shard
            if shard is None or not shard.items:
                return []
            records = [r.to_json() for r in shard.items]
            shard.starting_sequence_number += len(shard.items)
            shard.items = []
        return records

    def _pump_streams(self) -> int:
        count = 0
        for table in self._stream_tables:
            records = self._take_stream_records(table)
            for consumer in self._streams:
                if consumer.table != table:
                    continue
                for record in records:
                    event = {**record, "eventVersion": "1.1", "eventSourceARN": consumer.stream_arn}
                    event["awsRegion"] = self.region
                    if not consumer.patterns:
                        consumer.pending.append(event)
                        continue
                    probe = _project(event, consumer.pattern_shape)
                    if any(p.matches_event(probe) for p in consumer.patterns):
                        consumer.pending.append(event)
        for consumer in self._streams:
            while consumer.pending:
                size = consumer.spec.batch_size
                batch = [consumer.pending.popleft() for _ in range(min(size, len(consumer.pending)))]
                self._deliver_stream_batch(consumer, batch, 0)
                count += len(batch)
        return count

    def _deliver_stream_batch(
        self, consumer: _StreamConsumer, batch: list[dict[str, Any]], depth: int
    ) -> None:
        spec = consumer.spec
        retries = spec.maximum_retry_attempts
        attempt = 0
        while batch:
            failed_from, error = self._invoke_stream(consumer, batch)
            if failed_from is None:
                return
            batch = batch[failed_from:]  # records before the first reported failure are done
            if spec.bisect_on_error and len(batch) > 1 and depth < _MAX_BISECT_DEPTH:
                middle = len(batch) // 2
                self._deliver_stream_batch(consumer, batch[:middle], depth + 1)
                self._deliver_stream_batch(consumer, batch[middle:], depth + 1)
                return
            attempt += 1
            if retries >= 0 and attempt > retries:
                self._stream_failure(consumer, batch, attempt, error)
                return

    def _invoke_stream(
        self, consumer: _StreamConsumer, batch: list[dict[str, Any]]
    ) -> tuple[int | None, str]:
        """(index of the first record to retry, or None when all succeeded; the error)."""
        function = consumer.spec.function
        try:
            result = self._invoke(function, {"Records": batch})
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.deliveries.append(
                Delivery(self.clock.now(), consumer.spec.name, function, len(batch), False, error)
            )
            return 0, error
        failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
        if consumer.spec.report_item_failures and failures:
            ids = {str(f.get("itemIdentifier")) for f in failures}
            numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
            first = next((i for i, n in enumerate(numbers) if n in ids), 0)
            error = f"{len(ids)} record(s) reported failed"
            self.deliveries.append(
                Delivery(self.clock.now(), consumer.spec.name, function, len(batch), False, error)
            )
            return first, error
        self.deliveries.append(Delivery(self.clock.now(), consumer.spec.name, function, len(batch), True))
        return None, ""

    def _stream_failure(
        self, consumer: _StreamConsumer, batch: list[dict[str, Any]], attempts: int, error: str
    ) -> None:
        """Retries exhausted: describe the batch to the on-failure destination (as Lambda does), skip it."""
        numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        self.errors.append(f"{consumer.spec.name}: records {numbers[0]}..{numbers[-1]} skipped: {error}")
        if consumer.on_failure is None:
            return
        function_arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{consumer.spec.function}"
        record = {
            "requestContext": {
                "requestId": f"local-{numbers[0]}",
                "functionArn": function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": self.clock.now().isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": "shardId-local",
                "startSequenceNumber": numbers[0],
                "endSequenceNumber": numbers[-1],
                "approximateArrivalOfFirstRecord": batch[0]["dynamodb"].get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": batch[-1]["dynamodb"].get("ApproximateCreationDateTime"),
                "batchSize": len(batch),
                "streamArn": consumer.stream_arn,
            },
        }
        self._send_to_arn(consumer.on_failure, json.dumps(record))

    # ------------------------------------------------------------ EventBridge rules

    def _pump_bus(self) -> int:
        count = 0
        while self._bus_pending:
            bus, event = self._bus_pending.popleft()
            count += 1
            for rule in self._rules:
                if rule.bus != bus or not rule.pattern.matches_event(event):
                    continue
                for target in rule.targets:
                    payload = json.loads(target["Input"]) if target.get("Input") else event
                    self._deliver_to_target(rule.spec.name, target["Arn"], payload)
        return count

    def _deliver_to_target(self, rule: str, arn: str, payload: dict[str, Any]) -> None:
        function = _lambda_name(arn)
        if function is None:
            self._send_to_arn(arn, json.dumps(payload))
            self.deliveries.append(Delivery(self.clock.now(), rule, None, 1, True))
            return
        if function not in self._known_functions():
            self.errors.append(f"rule {rule}: target {arn} is not a function of the local stack")
            return
        error = ""
        for _ in range(_RULE_TARGET_ATTEMPTS):
            try:
                self._invoke(function, payload)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                continue
            self.deliveries.append(Delivery(self.clock.now(), rule, function, 1, True))
            return
        self.deliveries.append(Delivery(self.clock.now(), rule, function, 1, False, error))
        self.errors.append(f"rule {rule}: {function} failed {_RULE_TARGET_ATTEMPTS} times: {error}")

    def _send_to_arn(self, arn: str, body: str) -> None:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "sqs":
            self.errors.append(f"cannot deliver to {arn} locally")
            return
        # Straight to moto's backend: the service delivering, not a client (a client's request costs
        # milliseconds of botocore and moto serialising, for every event).
        self._sqs_backend().send_message(parts[5], body)
        self._wake.set()

    # ------------------------------------------------------------ SQS

    def _sqs_backend(self) -> Any:
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.account][self.region]

    def _moto_queue(self, name: str) -> Any:
        return self._sqs_backend().queues.get(name)

    def _visible(self, name: str) -> bool:
        queue = self._moto_queue(name)
        return queue is not None and bool(queue.messages)

    def _pump_queues(self) -> int:
        count = 0
        for consumer in self._queues:
            if not self._visible(consumer.queue_name):
                continue
            backend = self._sqs_backend()
            queue = backend.get_queue(consumer.queue_name)
            received = backend.receive_message(
                consumer.queue_name,
                min(consumer.spec.batch_size, 10),
                0,
                int(queue.visibility_timeout),
                ["All"],
            )
            if not received:
                continue
            count += len(received)
            records = [self._sqs_record(consumer, m) for m in received]
            function = consumer.spec.function
            done: list[Any] = []
            try:
                result = self._invoke(function, {"Records": records})
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                self.deliveries.append(
                    Delivery(self.clock.now(), consumer.spec.name, function, len(records), False, error)
                )
            else:
                failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
                failed = (
                    {str(f.get("itemIdentifier")) for f in failures}
                    if consumer.spec.report_item_failures and failures
                    else set()
                )
                done = [m for m in received if m.id not in failed]
                reported = f"{len(failed)} message(s) reported failed" if failed else None
                self.deliveries.append(
                    Delivery(
                        self.clock.now(), consumer.spec.name, function, len(records), not failed, reported
                    )
                )
            for message in done:
                backend.delete_message(consumer.queue_name, message.receipt_handle)
        return count

    def _sqs_record(self, consumer: _QueueConsumer, message: Any) -> dict[str, Any]:
        """The Lambda SQS event record of a moto message."""
        return {
            "messageId": message.id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(message.approximate_receive_count),
                "SentTimestamp": str(message.sent_timestamp),
                "SenderId": str(message.sender_id),
                "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
            },
            "messageAttributes": dict(message.message_attributes),
            "md5OfBody": message.body_md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": consumer.queue_arn,
            "awsRegion": self.region,
        }

    # ------------------------------------------------------------ reading

    def events_on(self, bus: str) -> list[dict[str, Any]]:
        """Every event put on `bus` since the stack started, oldest first."""
        return [event for name, event in list(self.bus_events) if name == bus]


def _lambda_name(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return parts[6]
    return None


def _shape_of(patterns: list[Any]) -> dict[str, Any] | None:
    """The union of the keys the patterns name, as a tree (None: match on the whole record).

    A key a pattern does not name cannot change whether a record matches it; "$or" combines
    sub-patterns at one level, so a pattern with it is matched on the whole record."""
    shape: dict[str, Any] = {}

    def merge(into: dict[str, Any], pattern: Any) -> bool:
        if not isinstance(pattern, dict):
            return True
        for key, value in pattern.items():
            if key.startswith("$"):
                return False
            if isinstance(value, dict):
                child = into.get(key)
                if child is None:
                    child = into[key] = {}
                elif child is True:  # another pattern matches this key's value as a whole
                    continue
                if not merge(child, value):
                    return False
            else:
                into[key] = True
        return True

    return shape if all(merge(shape, p) for p in patterns) else None


def _project(record: Any, shape: dict[str, Any] | None) -> Any:
    if shape is None or not isinstance(record, dict):
        return record
    projected: dict[str, Any] = {}
    for key, sub in shape.items():
        if key in record:
            projected[key] = record[key] if sub is True else _project(record[key], sub)
    return projected
