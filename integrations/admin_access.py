"""The integrations admin pages (API keys, webhooks, outbox, deliveries) are HQ's only: each asks
integrations.policies on top of the model permissions, so a staff account given those permissions
by mistake still sees nothing here."""

from integrations.policies import integrations_manageable_by


class HQOnlyAdmin:
    def has_module_permission(self, request):
        return integrations_manageable_by(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return integrations_manageable_by(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return integrations_manageable_by(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return integrations_manageable_by(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return integrations_manageable_by(request.user) and super().has_delete_permission(request, obj)
