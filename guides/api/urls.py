from rest_framework.routers import SimpleRouter

from guides.api.views import (
    BindingViewSet,
    CommissionEntryViewSet,
    CommissionRuleViewSet,
    GuideViewSet,
    StatementViewSet,
)

router = SimpleRouter()
router.register("guides", GuideViewSet, basename="guide")
router.register("bindings", BindingViewSet, basename="binding")
router.register("commission-entries", CommissionEntryViewSet, basename="commission-entry")
router.register("statements", StatementViewSet, basename="statement")
router.register("commission-rules", CommissionRuleViewSet, basename="commission-rule")

urlpatterns = router.urls
