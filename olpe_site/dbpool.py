"""PostgreSQL connection pools and fork().

A psycopg pool belongs to the process that opened it: its connections' sockets
and its background threads. django-q2 forks its worker, monitor and pusher
processes from the sentinel, and forks a new worker whenever one is recycled,
times out or dies; by then the sentinel has used the database (its scheduler),
so its pool is open, with idle connections in it. A child that used the copy
would hand the parent's sockets to a second process (two processes talking on
one PostgreSQL session) and would wait on pool threads that do not exist in it.

After every fork, the child forgets the pools and the connections it inherited,
without closing them (closing would end the parent's sessions too), and keeps
them referenced so that they are never finalised there. Django then opens a
fresh pool in the child on its first query, as in any new process.
"""

from __future__ import annotations

import os
import sys

# What children inherited: kept alive so that no finaliser closes the parent's sockets.
_inherited: list[object] = []
_installed = False


def forget_inherited_pools() -> None:
    """Drop the pools and connections this (forked) process inherited, leaving them open."""
    backend = sys.modules.get("django.db.backends.postgresql.base")
    if backend is not None:
        pools = backend.DatabaseWrapper._connection_pools
        _inherited.extend(pools.values())
        pools.clear()
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _inherited.append(connection.connection)
            connection.connection = None  # the next query connects (from a new pool)


def install_fork_handler() -> None:
    """Have every child forked from this process start without its parent's pools (once)."""
    global _installed
    if not _installed:
        os.register_at_fork(after_in_child=forget_inherited_pools)
        _installed = True
