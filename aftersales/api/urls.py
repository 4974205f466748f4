from rest_framework.routers import SimpleRouter

from aftersales.api.views import TicketViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")

urlpatterns = router.urls
