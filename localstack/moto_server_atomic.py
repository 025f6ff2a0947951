"""moto's server, with DynamoDB writes applied one at a time, and without two costs per request.

moto serves each request on its own thread and does not lock an item between checking a
ConditionExpression and writing it, so two concurrent conditional writes to one item can both
succeed. DynamoDB never allows that, and Vigil relies on it (the first acknowledgement wins, a
notification is claimed once). This wraps moto's WSGI application so that DynamoDB requests run
one after another; every other service stays concurrent. Arguments are moto_server's.

moto runs every request in one Python process (one core, under the GIL), and `vigil run` keeps
it busy. Two of its costs are not the services' work, and this drops them (a profile of a
default run with py-spy: about a third of the process's time):
- finding a request's service lists moto's package directory and matches the host against
  some hundreds of URL patterns, under a lock, for every request; the answer depends only on
  the host, so it is kept;
- werkzeug writes a line to the log for every request; errors are still written.
"""

import functools
import logging
import threading

from moto import server
from moto.moto_server import werkzeug_app

_DYNAMODB = threading.Lock()
_Dispatcher = werkzeug_app.DomainDispatcherApplication


# The writes: a condition is checked and the item written within one of these. Reads
# (a long Scan or Query among them) stay concurrent and never wait behind each other.
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class _VigilDispatcher(_Dispatcher):
    @functools.lru_cache(maxsize=1024)
    def get_backend_for_host(self, host):
        return super().get_backend_for_host(host)

    def __call__(self, environ, start_response):
        service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
        if not service.startswith("DynamoDB_") or operation not in _WRITES:
            return super().__call__(environ, start_response)
        with _DYNAMODB:
            # Drain the body inside the lock: the work may be done lazily while it is read.
            return list(super().__call__(environ, start_response))


server.DomainDispatcherApplication = _VigilDispatcher
logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    server.main()
