from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from config import views
from portal import search, wallet
from portal import views as portal_views

# The admin's login goes through allauth's, so its rate limits and MFA apply there too.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = _("O2O back office")
admin.site.site_title = _("O2O HQ")

portal_patterns = [
    path("", portal_views.portal_home, name="home"),
    path("search/", search.search, name="search"),
    path("wallet/<int:pk>/", wallet.member_wallet, name="member_wallet"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("portal/", include((portal_patterns, "portal"))),
    path("portal/stores/", include("stores.urls")),
    path("portal/members/", include("portal.member_urls")),
    path("portal/orders/", include("portal.order_urls")),
    path("portal/guides/", include("guides.urls")),
    path("portal/service/", include("aftersales.urls")),
    path("s/", include("portal.store_urls")),
    path("g/", include("guides.public_urls")),
    path("t/", include("aftersales.public_urls")),
    path("hq/catalog/", include("catalog.urls")),
    path("hq/guides/", include("guides.hq_urls")),
    path("hq/service/", include("aftersales.hq_urls")),
    path("hq/marketing/", include("marketing.hq_urls")),
    path("hq/dashboard/", include("dashboard.urls")),
    path("api/v1/", include("portal.api_urls")),
]

# Under /api/ an unknown URL or a crash answers in the API's error shape {"code", "message", "fields"}.
handler400 = "config.api.errors.handler400"
handler404 = "config.api.errors.handler404"
handler500 = "config.api.errors.handler500"
