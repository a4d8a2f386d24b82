from django.apps import AppConfig


class TradeEngineConfig(AppConfig):
    name = "tradeengine"
    verbose_name = "Trade engine"

    def ready(self) -> None:
        # The collectors read app models: Django allows importing them only
        # once the app registry is ready, which is what ready() is for.
        from . import metrics

        metrics.install()
