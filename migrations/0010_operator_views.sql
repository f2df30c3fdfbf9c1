-- The admin order view (GET /v1/admin/orders/{orderId}) shows an order's timeline: the
-- application role reads order_events (still append-only for it: written only by the order
-- functions, which run as their owner).
grant select on order_events to checkout_app;
