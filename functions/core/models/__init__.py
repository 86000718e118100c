"""The order as platforms send it and as the OMS keeps it (pydantic v2, validated at every boundary).

Import the module that holds what you need; this package re-exports nothing, so a handler loads only
the models it uses:

* `base`: the shared field types (Money, Sku, PlatformName, Text, ...) and StrictModel.
* `order_in`: OrderIn and its parts (Address, Buyer, OrderLine, Amounts, PaymentIn, ...), order_id_for.
* `orders`: Order as stored, what stages record on it (RuleHit, Hold, AllocationInfo, ...), HistoryEvent.
* `stock`: StockLevel, StockShard, StockMovement, Reservation.
* `shipping`: Shipment, TrackingEvent, ShipmentTracking, ExceptionCase, ExceptionResolution.
"""
