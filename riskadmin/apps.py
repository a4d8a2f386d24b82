from django.apps import AppConfig


class RiskAdminConfig(AppConfig):
    name = "riskadmin"
    verbose_name = "Risk and administration"
