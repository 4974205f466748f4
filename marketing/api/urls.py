"""Routes of the marketing API, under /api/v1/ beside the member they belong to."""

from django.urls import path

from marketing.api.views import MemberWalletViewSet

urlpatterns = [
    path(
        "members/<int:pk>/coupons/",
        MemberWalletViewSet.as_view({"get": "coupons"}),
        name="member-coupons",
    ),
    path("members/<int:pk>/wallet/", MemberWalletViewSet.as_view({"get": "wallet"}), name="member-wallet"),
    path(
        "members/<int:pk>/wallet/top-ups/",
        MemberWalletViewSet.as_view({"post": "top_up"}),
        name="member-wallet-top-up",
    ),
]
