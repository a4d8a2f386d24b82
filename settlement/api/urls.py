"""Settlement routes (mounted under /api/v1/)."""

from django.urls import path

from .balances import BalanceListView
from .operators import DepositView, SettlementQueueView

urlpatterns = [
    path("balances", BalanceListView.as_view(), name="balances"),
    path("admin/deposits", DepositView.as_view(), name="admin-deposits"),
    path("admin/settlement/queue", SettlementQueueView.as_view(), name="admin-settlement-queue"),
]
