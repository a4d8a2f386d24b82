from django.urls import path

from . import views

urlpatterns = [
    path("account", views.AccountView.as_view(), name="account"),
    path("orders", views.OrderListCreateView.as_view(), name="orders"),
    path("orders/<int:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    path("fills", views.FillListView.as_view(), name="fills"),
]
