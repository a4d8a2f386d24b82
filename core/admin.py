"""Admin building blocks shared by the apps."""

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.template.response import TemplateResponse


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that change only through services (or never): the admin shows them,
    it does not add, change or delete them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"size": 60, "autofocus": True}))


def ask_reason(modeladmin, request, queryset, *, action: str, title: str, apply):
    """An intermediate page asking for a reason; on submit calls apply(obj, reason) for each."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done = [apply(obj, form.cleaned_data["reason"]) for obj in queryset]
        return done
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
    }
    # The page is riskadmin's template (core is no Django app of its own).
    return TemplateResponse(request, "admin/riskadmin/reason_form.html", context)
