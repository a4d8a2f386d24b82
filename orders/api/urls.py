from django.urls import path

from . import batch, views

urlpatterns = [
    path("account", views.AccountView.as_view(), name="account"),
    path("orders", views.OrderListCreateView.as_view(), name="orders"),
    path("orders/batch", batch.OrderBatchView.as_view(), name="orders-batch"),
    path("orders/<int:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/by-client-id/<str:client_order_id>", views.OrderByClientIdView.as_view(), name="order-by-client-id"),
    path("fills", views.FillListView.as_view(), name="fills"),
]
