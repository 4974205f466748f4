"""/api/v1/: every app's API routes, the OpenAPI schema and its browsable docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from catalog.api import views as catalog_api
from members.api import views as members_api
from orders.api import views as orders_api
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

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include(router.urls)),
    path("", include("guides.api.urls")),
    path("", include("aftersales.api.urls")),
    path("", include("integrations.key_api")),
]
