"""A DynamoDB Query on moto reads only the items that can match, not the whole table.

moto's Table.query (5.2.x) takes `self.all_items()`, which sorts every item of the table on each call,
then filters: each query cost as much as the table was large, so every test and every simulated order
got slower than the one before. Here a query on the table's own hash key is handed just that partition;
an index query is handed (unsorted: moto sorts the results by the index's keys itself) the items whose
index hash key attributes equal the query's, found in a hash map per table and attribute set that is
built on the first such query and kept up to date by every write (Table.put_item and delete_item,
which every put, delete, batch and transaction goes through, and the backend's update_item, which
changes an item in place). The rest of moto's query (range conditions, order, paging, filters,
projection) runs unchanged on them.

Every patch goes through `patch_moto` (oms/local/moto_contract.py); all of it runs under the runtime's
DynamoDB lock (every request does).
"""

from __future__ import annotations

import inspect
import threading
import weakref
from typing import Any

from oms.local.moto_contract import patch_moto
from oms.local.runtime import RUNTIME

ItemKey = tuple[Any, Any]  # (hash key DynamoType, range key DynamoType or None)


class AttributeMap:
    """The items of one table by the values of some attributes (an index's hash key attributes)."""

    def __init__(self, table: Any, names: tuple[str, ...]) -> None:
        self.names = names
        self.by_values: dict[tuple[Any, ...], dict[ItemKey, None]] = {}
        self.values_of: dict[ItemKey, tuple[Any, ...]] = {}
        for item in _every_item(table):
            self.place((item.hash_key, item.range_key), item)

    def place(self, key: ItemKey, item: Any) -> None:
        """Record what `item` (None: deleted) now holds under `key`."""
        old = self.values_of.pop(key, None)
        if old is not None:
            bucket = self.by_values[old]
            bucket.pop(key, None)
            if not bucket:
                del self.by_values[old]
        if item is None:
            return
        values = tuple(item.attrs.get(name) for name in self.names)
        if any(value is None for value in values):
            return  # not in the index
        try:
            self.by_values.setdefault(values, {})[key] = None
        except TypeError:  # a list or map where a key attribute's name is used: never a key's match
            return
        self.values_of[key] = values

    def keys_matching(self, values: tuple[Any, ...]) -> list[ItemKey]:
        try:
            return list(self.by_values.get(values, ()))
        except TypeError:
            return []


_MAPS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], AttributeMap]] = weakref.WeakKeyDictionary()


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _stored(table: Any, key: ItemKey) -> Any:
    hash_key, range_key = key
    found = table.items.get(hash_key)
    if found is None or not table.range_key_attr:
        return found
    return found.get(range_key)


def _reindex(table: Any, key: ItemKey) -> None:
    for attribute_map in _MAPS.get(table, {}).values():
        attribute_map.place(key, _stored(table, key))


def _reindex_updated(backend: Any, table_name: str, key: dict[str, Any]) -> None:
    try:
        table = backend.get_table(table_name)
        if table not in _MAPS:
            return
        hash_value, range_value = backend.get_keys_value(table, key)
    except Exception:  # no such table or an invalid key: the update changed nothing
        return
    _reindex(table, (hash_value, range_value))


def items_matching(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """Items whose attributes equal every (name, DynamoType) condition, as DynamoType equality says."""
    names = tuple(name for name, _ in conditions)
    maps = _MAPS.setdefault(table, {})
    attribute_map = maps.get(names)
    if attribute_map is None:
        attribute_map = maps[names] = AttributeMap(table, names)
    values = tuple(value for _, value in conditions)
    return [item for key in attribute_map.keys_matching(values) if (item := _stored(table, key)) is not None]


def _sorted_partition(table: Any, hash_key: Any) -> list[Any]:
    found = table.items.get(hash_key, {})
    return sorted(found.values(), key=lambda item: item.range_key)


def install_query_patches() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    hint = threading.local()
    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, hash_key, *args, **kwargs).arguments
        index_name = arguments.get("index_name")
        if index_name is None and hash_key is not None and self.range_key_attr:
            hint.only = (self, lambda: _sorted_partition(self, hash_key))
        elif index_name is not None and arguments.get("hash_key_conditions") and RUNTIME.indexed_queries:
            conditions = list(arguments["hash_key_conditions"])
            hint.only = (self, lambda: items_matching(self, conditions))
        else:
            return original_query(self, hash_key, *args, **kwargs)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            hint.only = None

    def all_items(self: Any) -> Any:
        only = getattr(hint, "only", None)
        if only is not None and only[0] is self:
            return only[1]()
        return original_all_items(self)

    patch_moto(Table, "query", query)
    patch_moto(Table, "all_items", all_items)

    # Keeping the maps up to date: every write that adds, replaces, changes or removes an item.
    original_put = Table.put_item
    original_delete = Table.delete_item
    original_update = DynamoDBBackend.update_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, *args, **kwargs)
        if self in _MAPS:
            _reindex(self, (item.hash_key, item.range_key))
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original_delete(self, hash_key, range_key)
        finally:
            if self in _MAPS:
                _reindex(self, (hash_key, range_key if self.range_key_attr else None))

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:  # also after a failure: an update can fail half-way through changing the item
            _reindex_updated(self, table_name, key)

    patch_moto(Table, "put_item", put_item)
    patch_moto(Table, "delete_item", delete_item)
    patch_moto(DynamoDBBackend, "update_item", update_item)
