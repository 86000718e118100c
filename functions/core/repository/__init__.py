"""The one data layer: every DynamoDB read and write of the OMS goes through this package.

One table (docs/architecture.md), one module per concern: orders, search, stock, allocation, timers (due
timers), rules, buyers, aftersales, shipping, reports, outbox. Reads return records (pydantic models or
plain dicts without table keys); writes that must happen together are `Write`s committed by a
`UnitOfWork` (unit_of_work.py), which owns the transaction request, the table name and what a
cancellation means. Services import this package and call `repository.<name>`.

A concern module is imported when one of its names is first used (PEP 562 `__getattr__`), so a function
loads the concerns it touches, not all of them (docs/adr/0004-cold-import-budget.md). The imports under
TYPE_CHECKING say to the type checker what `_LAZY` says to the interpreter; a unit test keeps them equal.
"""

import importlib
from typing import TYPE_CHECKING, Any

# Loaded at once: every write goes through the unit of work, and its `unit_of_work` (a function) must
# be bound before anything imports the submodule of the same name.
from functions.core.repository._dynamo import table_name
from functions.core.repository.unit_of_work import (
    ReadAgain,
    TransactionRejected,
    UnitOfWork,
    Write,
    commit,
    retrying,
    unit_of_work,
    using,
)

if TYPE_CHECKING:
    from functions.core.repository.aftersales import (
        CASE_PREFIX,
        CASE_TAG,
        LINE_PREFIX,
        LINE_TAG,
        REFUND_TAG,
        OriginClaim,
        case_key,
        case_put_item,
        case_update_item,
        get_case,
        get_refund,
        line_commit_item,
        line_counters,
        line_refund_item,
        line_release_item,
        line_return_item,
        list_cases,
        refund_put_item,
        refund_settle_item,
        set_case_wait_token,
        take_case_wait_token,
    )
    from functions.core.repository.allocation import (
        MERGE_TAG,
        RESERVATION_TAG,
        merge_join_item,
        merge_open_item,
        open_merge_group,
        put_waitlist,
        release_items,
        remove_waitlist_entry,
        reservation_cut_items,
        reservation_group_item,
        reservation_grow_items,
        reserve_items,
        ship_group_items,
        ship_items,
        shipment_item,
        waitlist,
        waitlist_delete_items,
        waitlist_leave_items,
    )
    from functions.core.repository.audit import audit_records, record_audit
    from functions.core.repository.buyers import (
        BUYER_ORDER_TTL_SECONDS,
        buyer_case_item,
        count_buyer_cases,
        count_buyer_orders,
        count_recent_orders,
        record_buyer_order,
        remember_signature,
    )
    from functions.core.repository.gifts import (
        claim_gift_units,
        gift_claim,
        gift_return_items,
        gift_units_given,
    )
    from functions.core.repository.orders import (
        EVENT_TAG,
        ORDER_SK,
        ORDER_TAG,
        WAIT_TOKEN,
        OrderAggregate,
        OrderChange,
        OrderMovedError,
        PriorChange,
        _body_item,
        _event_item,
        _order_item,
        add_change,
        annotate,
        apply_changes,
        change_items,
        change_refund_item,
        create_order,
        created_sort_key,
        find_order,
        get_event,
        get_order,
        get_orders,
        load_aggregate,
        order_events_change,
        order_pk,
        refund_flag_item,
        set_execution_arn,
        transition,
        update_order_fields,
    )
    from functions.core.repository.outbox import (
        Published,
        history_event_from_image,
        published_events_of_type,
        published_key,
        published_records,
        put_webhook_endpoint,
        record_published,
        record_webhook_delivery,
        webhook_deliveries,
        webhook_delivery,
        webhook_endpoint,
        webhook_endpoints,
    )
    from functions.core.repository.products import (
        PRODUCT_TAG,
        StaleProductError,
        get_product,
        get_product_version,
        get_products,
        list_product_versions,
        product_page,
        save_product,
    )
    from functions.core.repository.reports import (
        SALES_MARKER_PK,
        SALES_MARKER_TTL_SECONDS,
        SALES_PK,
        SalesCounterKey,
        apply_sales_counters,
        query_sales_counters,
        stream_image,
    )
    from functions.core.repository.rules import (
        RULES_CURRENT_SK,
        RULES_PK,
        StaleRulesError,
        StoredRules,
        _stored_rules,
        active_rules,
        get_current_rules,
        get_current_rules_record,
        get_rules_version,
        list_rules_versions,
        save_rules,
    )
    from functions.core.repository.search import OrderPage, OrderSearch, list_orders_by_status, search_orders
    from functions.core.repository.shipping import (
        EXCEPTION_SK,
        EXCEPTION_TAG,
        TRACKING_EVENT_TAG,
        TRACKING_SK,
        TRACKING_TAG,
        exception_item,
        exception_resolve_item,
        get_exception,
        get_tracking,
        get_tracking_event,
        list_exceptions,
        shipment_pk,
        tracking_event_item,
        tracking_events,
        tracking_record_item,
        tracking_update_item,
    )
    from functions.core.repository.stock import (
        STOCK_SK_PREFIX,
        STOCK_TAG,
        DuplicateSyncError,
        StockChangedError,
        apply_stock_sync,
        get_stock,
        get_stock_shards,
        get_sync_record,
        ledger_item,
        return_to_stock_items,
        set_stock,
        stock_ledger,
        writeoff_item,
    )
    from functions.core.repository.timers import (
        ASDUE_SHARDS,
        PAY_DUE_INDEX,
        QUEUE_INDEX,
        due_payment_timers,
        due_return_deadlines,
        due_shipments,
        pay_due_keys,
        return_deadline_delete_item,
        return_deadline_put_item,
    )
    from functions.core.repository.tokens import (
        clear_wait_token,
        close_payment_timer,
        get_wait_token,
        replace_payment_token,
        set_wait_token,
    )

_LAZY: dict[str, str] = {  # concern module: the names it exports, space-separated
    "aftersales": (
        "CASE_PREFIX CASE_TAG LINE_PREFIX LINE_TAG OriginClaim REFUND_TAG case_key case_put_item "
        "case_update_item get_case get_refund line_commit_item line_counters line_refund_item "
        "line_release_item line_return_item list_cases refund_put_item refund_settle_item "
        "set_case_wait_token take_case_wait_token"
    ),
    "allocation": (
        "MERGE_TAG RESERVATION_TAG merge_join_item merge_open_item open_merge_group put_waitlist "
        "release_items remove_waitlist_entry reservation_cut_items reservation_group_item "
        "reservation_grow_items reserve_items ship_group_items ship_items shipment_item waitlist "
        "waitlist_delete_items waitlist_leave_items"
    ),
    "audit": "audit_records record_audit",
    "buyers": (
        "BUYER_ORDER_TTL_SECONDS buyer_case_item count_buyer_cases count_buyer_orders count_recent_orders "
        "record_buyer_order remember_signature"
    ),
    "gifts": "claim_gift_units gift_claim gift_return_items gift_units_given",
    "orders": (
        "EVENT_TAG ORDER_SK ORDER_TAG OrderAggregate OrderChange OrderMovedError PriorChange WAIT_TOKEN "
        "_body_item _event_item _order_item add_change annotate apply_changes change_items "
        "change_refund_item create_order created_sort_key find_order get_event get_order get_orders "
        "load_aggregate order_events_change order_pk refund_flag_item "
        "set_execution_arn transition update_order_fields"
    ),
    "outbox": (
        "Published history_event_from_image published_events_of_type published_key published_records "
        "put_webhook_endpoint record_published record_webhook_delivery webhook_deliveries "
        "webhook_delivery webhook_endpoint webhook_endpoints"
    ),
    "products": (
        "PRODUCT_TAG StaleProductError get_product get_product_version get_products list_product_versions "
        "product_page save_product"
    ),
    "reports": (
        "SALES_MARKER_PK SALES_MARKER_TTL_SECONDS SALES_PK SalesCounterKey apply_sales_counters "
        "query_sales_counters stream_image"
    ),
    "rules": (
        "RULES_CURRENT_SK RULES_PK StaleRulesError StoredRules _stored_rules active_rules "
        "get_current_rules get_current_rules_record get_rules_version list_rules_versions save_rules"
    ),
    "search": "OrderPage OrderSearch list_orders_by_status search_orders",
    "shipping": (
        "EXCEPTION_SK EXCEPTION_TAG TRACKING_EVENT_TAG TRACKING_SK TRACKING_TAG exception_item "
        "exception_resolve_item get_exception get_tracking get_tracking_event list_exceptions shipment_pk "
        "tracking_event_item tracking_events tracking_record_item tracking_update_item"
    ),
    "stock": (
        "DuplicateSyncError STOCK_SK_PREFIX STOCK_TAG StockChangedError apply_stock_sync get_stock "
        "get_stock_shards get_sync_record ledger_item return_to_stock_items set_stock stock_ledger "
        "writeoff_item"
    ),
    "timers": (
        "ASDUE_SHARDS PAY_DUE_INDEX QUEUE_INDEX due_payment_timers due_return_deadlines due_shipments "
        "pay_due_keys return_deadline_delete_item return_deadline_put_item"
    ),
    "tokens": "clear_wait_token close_payment_timer get_wait_token replace_payment_token set_wait_token",
}
_HOME = {name: module for module, names in _LAZY.items() for name in names.split()}

if not TYPE_CHECKING:  # the type checker reads the imports above; this is the interpreter's way

    def __getattr__(name: str) -> Any:
        if name in _LAZY:  # a concern module itself, as `repository.orders` always was
            return importlib.import_module(f"{__name__}.{name}")
        module = _HOME.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value  # once: the next use is a plain module attribute
        return value


__all__ = [
    "ASDUE_SHARDS",
    "BUYER_ORDER_TTL_SECONDS",
    "CASE_PREFIX",
    "CASE_TAG",
    "EVENT_TAG",
    "EXCEPTION_SK",
    "EXCEPTION_TAG",
    "LINE_PREFIX",
    "LINE_TAG",
    "MERGE_TAG",
    "ORDER_SK",
    "ORDER_TAG",
    "PAY_DUE_INDEX",
    "PRODUCT_TAG",
    "QUEUE_INDEX",
    "REFUND_TAG",
    "RESERVATION_TAG",
    "RULES_CURRENT_SK",
    "RULES_PK",
    "SALES_MARKER_PK",
    "SALES_MARKER_TTL_SECONDS",
    "SALES_PK",
    "STOCK_SK_PREFIX",
    "STOCK_TAG",
    "TRACKING_EVENT_TAG",
    "TRACKING_SK",
    "TRACKING_TAG",
    "WAIT_TOKEN",
    "DuplicateSyncError",
    "OrderAggregate",
    "OrderChange",
    "OrderMovedError",
    "OrderPage",
    "OrderSearch",
    "OriginClaim",
    "PriorChange",
    "Published",
    "ReadAgain",
    "SalesCounterKey",
    "StaleProductError",
    "StaleRulesError",
    "StockChangedError",
    "StoredRules",
    "TransactionRejected",
    "UnitOfWork",
    "Write",
    "_body_item",
    "_event_item",
    "_order_item",
    "_stored_rules",
    "active_rules",
    "add_change",
    "annotate",
    "apply_changes",
    "apply_sales_counters",
    "apply_stock_sync",
    "audit_records",
    "buyer_case_item",
    "case_key",
    "case_put_item",
    "case_update_item",
    "change_items",
    "change_refund_item",
    "claim_gift_units",
    "clear_wait_token",
    "close_payment_timer",
    "commit",
    "count_buyer_cases",
    "count_buyer_orders",
    "count_recent_orders",
    "create_order",
    "created_sort_key",
    "due_payment_timers",
    "due_return_deadlines",
    "due_shipments",
    "exception_item",
    "exception_resolve_item",
    "find_order",
    "get_case",
    "get_current_rules",
    "get_current_rules_record",
    "get_event",
    "get_exception",
    "get_order",
    "get_orders",
    "get_product",
    "get_product_version",
    "get_products",
    "get_refund",
    "get_rules_version",
    "get_stock",
    "get_stock_shards",
    "get_sync_record",
    "get_tracking",
    "get_tracking_event",
    "get_wait_token",
    "gift_claim",
    "gift_return_items",
    "gift_units_given",
    "history_event_from_image",
    "ledger_item",
    "line_commit_item",
    "line_counters",
    "line_refund_item",
    "line_release_item",
    "line_return_item",
    "list_cases",
    "list_exceptions",
    "list_orders_by_status",
    "list_product_versions",
    "list_rules_versions",
    "load_aggregate",
    "merge_join_item",
    "merge_open_item",
    "open_merge_group",
    "order_events_change",
    "order_pk",
    "pay_due_keys",
    "product_page",
    "published_events_of_type",
    "published_key",
    "published_records",
    "put_waitlist",
    "put_webhook_endpoint",
    "query_sales_counters",
    "record_audit",
    "record_buyer_order",
    "record_published",
    "record_webhook_delivery",
    "refund_flag_item",
    "refund_put_item",
    "refund_settle_item",
    "release_items",
    "remember_signature",
    "remove_waitlist_entry",
    "replace_payment_token",
    "reservation_cut_items",
    "reservation_group_item",
    "reservation_grow_items",
    "reserve_items",
    "retrying",
    "return_deadline_delete_item",
    "return_deadline_put_item",
    "return_to_stock_items",
    "save_product",
    "save_rules",
    "search_orders",
    "set_case_wait_token",
    "set_execution_arn",
    "set_stock",
    "set_wait_token",
    "ship_group_items",
    "ship_items",
    "shipment_item",
    "shipment_pk",
    "stock_ledger",
    "stream_image",
    "table_name",
    "take_case_wait_token",
    "tracking_event_item",
    "tracking_events",
    "tracking_record_item",
    "tracking_update_item",
    "transition",
    "unit_of_work",
    "update_order_fields",
    "using",
    "waitlist",
    "waitlist_delete_items",
    "waitlist_leave_items",
    "webhook_deliveries",
    "webhook_delivery",
    "webhook_endpoint",
    "webhook_endpoints",
    "writeoff_item",
]
