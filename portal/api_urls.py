"""/api/v1/: every app's API routes, the OpenAPI schema and its browsable docs."""

from django.conf import settings
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from catalog.api import views as catalog_api
from members.api import views as members_api
from orders.api import views as orders_api
from orders.api.quote import QuoteViewSet
from stores.api import views as stores_api

# No `.json` suffix routes: the format comes from Accept (or ?format=), and the suffix routes sent a
# `format` argument to @action methods that take none (a 500 on /api/v1/orders/queue.json/).
router = DefaultRouter()
router.include_format_suffixes = False
router.register("channels", catalog_api.ChannelViewSet, basename="channel")
router.register("categories", catalog_api.CategoryViewSet, basename="category")
router.register("products", catalog_api.ProductViewSet, basename="product")
router.register("skus", catalog_api.SKUViewSet, basename="sku")
router.register("prices", catalog_api.PriceViewSet, basename="price")
router.register("stores", stores_api.StoreViewSet, basename="store")
router.register("stock", stores_api.StockViewSet, basename="stock")
router.register("members", members_api.MemberViewSet, basename="member")
router.register("segments", members_api.SegmentViewSet, basename="segment")
router.register("orders", orders_api.OrderViewSet, basename="order")

# The API docs are third-party pages (Swagger UI and ReDoc from drf-spectacular's CDN), with no data
# of ours in them: their own policy lets the CDN's scripts and their inline styles in. Swagger's
# init script is served as a file (the split view), so no inline script runs anywhere.
CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = {
    **settings.SECURE_CSP,
    "script-src": [CSP.SELF, CDN],
    "style-src": [CSP.SELF, CDN, "https://fonts.googleapis.com", CSP.UNSAFE_INLINE],
    "font-src": [CSP.SELF, "https://fonts.gstatic.com"],
    "img-src": [CSP.SELF, "data:", CDN],
    "worker-src": [CSP.SELF, "blob:"],
}

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        csp_override(DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "redoc/",
        csp_override(DOCS_CSP)(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
    path("", include(router.urls)),
    path("quote/", QuoteViewSet.as_view({"post": "create"}), name="quote"),
    path("", include("marketing.api.urls")),
    path("", include("guides.api.urls")),
    path("", include("aftersales.api.urls")),
    path("", include("portal.key_api")),
]
