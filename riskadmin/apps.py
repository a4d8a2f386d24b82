from django.apps import AppConfig


class RiskAdminConfig(AppConfig):
    name = "riskadmin"
    verbose_name = "Risk and administration"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from orders.models import Order
        from tradeengine import metrics

        metrics.install()
        post_save.connect(metrics.order_saved, sender=Order, dispatch_uid="tradeengine-metrics-order-saved")
