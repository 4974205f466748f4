"""Project-wide pages: the portal home that points each role to its work, and health."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render


@login_required
def portal_home(request):
    from stores.selectors import stores_visible_to

    stores = stores_visible_to(request.user).select_related("partner").order_by("name")[:20]
    return render(request, "portal/home.html", {"stores": stores})


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
