"""Response headers Django does not set itself: Permissions-Policy (settings.PERMISSIONS_POLICY)."""

from django.conf import settings


def _header(policy: dict[str, list[str]]) -> str:
    return ", ".join(f"{feature}=({' '.join(allow)})" for feature, allow in policy.items())


class PermissionsPolicyMiddleware:
    """Tells the browser which powerful features the portal's pages may use: the camera (clerks
    scan barcodes) and geolocation (the public order page offers the customer's position) on our
    own origin; everything else, and every feature for embedded frames, is off."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.value = _header(settings.PERMISSIONS_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        if self.value and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.value
        return response
