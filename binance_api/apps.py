from django.apps import AppConfig


class BinanceApiConfig(AppConfig):
    name = "binance_api"
    verbose_name = "Binance-compatible API"
