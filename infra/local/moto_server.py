"""moto_server as the local runtime and the tests run it: moto 5's server with fixes for what is
slow or wrong in it under load, served with keep-alive when Debian's waitress is installed.

Usage: python3 moto_server.py -H HOST -p PORT [--label NAME] [--threads N]

Every fix below keeps moto's behaviour as a client sees it (the AWS API over HTTP); each says
what it fixes. infra/local/aws.ts starts this file; test/integration/moto-server.test.ts holds
each fix to its promise.
"""

import argparse
import functools
import signal
import sys
import threading
import time

# Debian installs waitress for its own Python; moto may run under another (pyenv, a venv), which
# can still load it: waitress is pure Python with no dependencies. Appended, so the interpreter's
# own packages win.
DEBIAN_PACKAGES = "/usr/lib/python3/dist-packages"


def cache_jsonpath_parse():
    """EventBridge rebuilds a jsonpath parser (a PLY grammar, ~45 ms) eight times for every event
    it sends to a target; the parse returns an immutable expression, so it is cached."""
    try:
        import jsonpath_ng.ext
    except ImportError:
        return
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)


def make_dynamodb_item_operations_atomic():
    """moto serves requests on threads and checks a DynamoDB condition, then writes, with no lock
    between: two conditional puts of one key could both succeed, which DynamoDB never allows. Each
    item operation runs under one lock, so a condition and its write are atomic, as on AWS."""
    from moto.dynamodb.models import DynamoDBBackend

    item_lock = threading.RLock()

    def atomic(operation):
        @functools.wraps(operation)
        def run(*args, **kwargs):
            with item_lock:
                return operation(*args, **kwargs)

        return run

    for name in (
        "get_item",
        "put_item",
        "update_item",
        "delete_item",
        "batch_write_item",
        "transact_write_items",
    ):
        setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))


def make_dynamodb_transactions_item_sized():
    """TransactWriteItems deep-copied every table it touches before writing, to roll back on a
    failed condition: O(table size) per call, twice when both items are in one table. An
    idempotency table of 5,000 records made one call take ~35 ms and every new record slower.
    Only the items the transaction names are copied now, and restored on a rollback. Must be
    applied before the item lock wraps the operation, so the copy and the rollback run under it.
    """
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    state = threading.local()

    def table_deepcopy(self, memo):
        # Within a transaction the "backup" is the table itself (its rollback assignment changes
        # nothing); elsewhere (backups, exports) a table copies as Python would copy it.
        if getattr(state, "transacting", False):
            return self
        result = self.__class__.__new__(self.__class__)
        memo[id(self)] = result
        for name, value in self.__dict__.items():
            setattr(result, name, copy.deepcopy(value, memo))
        return result

    Table.__deepcopy__ = table_deepcopy
    original = DynamoDBBackend.transact_write_items

    def touched_items(backend, transact_items):
        """(table, hash key, range key, a copy of the item or None) for each item named."""
        snapshots = []
        for entry in transact_items:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            operation = next(iter(entry.values()))
            table = backend.tables.get(operation.get("TableName")) if isinstance(operation, dict) else None
            if table is None:
                continue
            attributes = operation.get("Item") or operation.get("Key") or {}
            if table.hash_key_attr not in attributes:
                continue
            hash_value = DynamoType(attributes[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in attributes:
                    continue
                range_value = DynamoType(attributes[table.range_key_attr])
                current = table.items.get(hash_value, {}).get(range_value)
            else:
                current = table.items.get(hash_value)
            snapshots.append((table, hash_value, range_value, copy.deepcopy(current)))
        return snapshots

    def restore(snapshots):
        for table, hash_value, range_value, item in reversed(snapshots):
            if range_value is None:
                if item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
            elif item is None:
                table.items.get(hash_value, {}).pop(range_value, None)
            else:
                table.items[hash_value][range_value] = item

    @functools.wraps(original)
    def transact_write_items(self, transact_items):
        snapshots = touched_items(self, transact_items)
        state.transacting = True
        try:
            return original(self, transact_items)
        except Exception:
            restore(snapshots)
            raise
        finally:
            state.transacting = False

    DynamoDBBackend.transact_write_items = transact_write_items


def cache_request_routing():
    """Per request, moto lists and stats its ~200 service directories (to tell a service name from
    a host name) under a global lock, and lists a response class's methods with
    inspect.getmembers. Neither changes while the server runs, so both are computed once."""
    import moto.backends as backends
    import moto.core.responses as responses
    import moto.moto_server.werkzeug_app as werkzeug_app

    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    werkzeug_app.backends.list_of_moto_modules = lambda: modules

    method_names = functools.lru_cache(maxsize=None)(responses.method_names_from_class)
    responses.method_names_from_class = method_names


def fix_sqs():
    """SQS, made O(1) per message where moto is O(queue length), and safe under concurrency.

    - moto reads the clock through datetime arithmetic (~7 µs) once per message per scan, and a
      FIFO send scans the queue a dozen times (queue attributes, built four times, count the
      visible, delayed and in-flight messages). One send took 1.7 ms with an empty queue and
      120 ms with 1,000 queued. The clock is read through time.time(): the same value, as moto's
      server never freezes time. A send no longer builds the attributes at all (below).
    - A receive read the queue's attributes once per message it returned, to check retention.
    - A delete scanned the queue twice, building each message's list of receipt handles.
    - Concurrent receives were not atomic (601 messages handed out from a queue of 600), and one
      could fail with "Set changed size during iteration" while another changed the in-flight
      set (HTTP 500). Every change to a queue runs under one lock; a long poll waits outside it.
    - A long poll on a FIFO queue whose visible messages all belong to groups in flight spun on
      the CPU until its wait ended: moto's wait returns at once while any message is visible. It
      now sleeps until a message is sent, deleted or made visible again, or a short tick passes.
    - A FIFO message hidden again by ChangeMessageVisibility after it was made visible did not
      lock its group: moto counts a message in flight only from its receive, and a change to 0
      takes it out. On SQS a hidden message is in flight whatever hid it, so its group's later
      messages wait behind it; the consumers' backoff relies on that to keep an account's order.
    """
    import moto.sqs.models as models
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    def unix_time(dt=None):
        return time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt=None):
        return time.time() * 1000.0 if dt is None else original_unix_time_millis(dt)

    original_unix_time = models.unix_time
    original_unix_time_millis = models.unix_time_millis
    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis

    Queue = models.Queue
    Backend = models.SQSBackend
    queue_lock = threading.RLock()
    # A waiting long poll wakes at least this often, for messages whose visibility timeout ended.
    long_poll_tick_s = 0.2

    def locked(operation):
        @functools.wraps(operation)
        def run(*args, **kwargs):
            with queue_lock:
                return operation(*args, **kwargs)

        return run

    def wake_pollers(queue):
        with queue._messages_lock:
            queue._messages_lock.notify_all()

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        queue = self.get_queue(queue_name)
        retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
        return retain_until > time.time()

    def delete_message(self, receipt_handle):
        if receipt_handle in self.deleted_messages:
            # Already deleted: deleting again succeeds, as on AWS.
            return
        for index, message in enumerate(self._messages):
            if message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles:
                del self._messages[index]
                self._pending_messages.discard(message)
                self.deleted_messages.update(message.all_receipt_handles)
                break
        else:
            raise ReceiptHandleIsInvalid()
        # A delete frees the message's group for a FIFO long poll.
        wake_pollers(self)

    original_receive = Backend.receive_message

    def receive_message(
        self,
        queue_name,
        count,
        wait_seconds_timeout,
        visibility_timeout,
        message_attribute_names=None,
    ):
        deadline = time.monotonic() + float(wait_seconds_timeout or 0)
        while True:
            with queue_lock:
                result = original_receive(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return result
            queue = self.get_queue(queue_name)
            with queue._messages_lock:
                queue._messages_lock.wait(timeout=min(remaining, long_poll_tick_s))

    # A send read the queue's attributes four times for one of them, ContentBasedDeduplication;
    # building them counts the visible, delayed and in-flight messages, three scans of the queue.
    # While a send runs, the attributes are that one value, so a send does not scan the queue.
    sending = threading.local()
    original_attributes = Queue.attributes.fget

    def attributes(self):
        if not getattr(sending, "active", False):
            return original_attributes(self)
        # Standard queues have no such attribute; their attributes leave it out, as here.
        value = getattr(self, "content_based_deduplication", None)
        return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}

    def while_sending(operation):
        @functools.wraps(operation)
        def run(*args, **kwargs):
            outer = getattr(sending, "active", False)
            sending.active = True
            try:
                return operation(*args, **kwargs)
            finally:
                sending.active = outer

        return run

    original_change_visibility = Backend.change_message_visibility

    def change_message_visibility(self, queue_name, receipt_handle, visibility_timeout):
        original_change_visibility(self, queue_name, receipt_handle, visibility_timeout)
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue:
            return
        for message in queue._messages:
            if message.had_receipt_handle(receipt_handle):
                if not message.visible:
                    queue.pending_messages.add(message)
                return

    Backend.change_message_visibility = change_message_visibility
    Queue.attributes = property(attributes)
    Backend.send_message = while_sending(Backend.send_message)
    Backend.send_message_batch = while_sending(Backend.send_message_batch)
    Backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    Queue.delete_message = delete_message
    Backend.receive_message = receive_message
    for name in (
        "send_message",
        "send_message_batch",
        "delete_message",
        "delete_message_batch",
        "change_message_visibility",
        "change_message_visibility_batch",
        "purge_queue",
    ):
        setattr(Backend, name, locked(getattr(Backend, name)))


def serve(host, port, label, threads):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    application = DomainDispatcherApplication(create_backend_app)
    if DEBIAN_PACKAGES not in sys.path:
        sys.path.append(DEBIAN_PACKAGES)
    try:
        import waitress
    except ImportError:
        # werkzeug answers `Connection: close`: a new connection and thread per SDK call.
        print(
            f"moto ({label}): waitress is not installed (apt-get install python3-waitress);"
            " serving with werkzeug, one connection per request",
            flush=True,
        )
        from werkzeug.serving import run_simple

        run_simple(host, port, application, threaded=True)
        return
    print(f"moto ({label}): serving on http://{host}:{port} with waitress, {threads} threads", flush=True)
    # Keep-alive connections, served by a fixed pool of threads. The SDK clients keep their
    # connections open, so a call costs no TCP handshake and no new thread.
    waitress.serve(
        application,
        host=host,
        port=port,
        threads=threads,
        # The SDK's pools open at most this many connections each; more wait in the backlog.
        connection_limit=1000,
        backlog=1024,
        # Long polls hold a connection for up to 20 s of silence; they must not be cut.
        channel_timeout=120,
        ident=None,
        # Its own "Serving on" line and logging setup; the line above says it.
        _quiet=True,
    )


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--label", default="all services")
    # Threads serving requests. Long polls hold one each for their wait, so there are enough for
    # every poller of the runtime plus the calls of the API handlers.
    parser.add_argument("--threads", type=int, default=48)
    args = parser.parse_args(argv)

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    cache_jsonpath_parse()
    make_dynamodb_transactions_item_sized()
    make_dynamodb_item_operations_atomic()
    cache_request_routing()
    fix_sqs()
    serve(args.host, args.port, args.label, args.threads)


if __name__ == "__main__":
    main(sys.argv[1:])
