from django.apps import AppConfig

_collectors_registered = False


class SettlementConfig(AppConfig):
    name = "settlement"

    def ready(self) -> None:
        global _collectors_registered
        # ready() can run more than once (test runners); register only once.
        if _collectors_registered:
            return
        from prometheus_client import REGISTRY

        from .wallet import WalletBreakerCollector

        REGISTRY.register(WalletBreakerCollector())
        _collectors_registered = True
